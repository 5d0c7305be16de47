
/*
 * Copyright (C) ws-api authors
 */


#include "ngx_http_ws_api_relay.h"


ngx_int_t
ngx_http_ws_api_relay_init(ngx_conf_t *cf)
{
    return NGX_OK;
}
