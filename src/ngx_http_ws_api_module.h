
/*
 * Copyright (C) ws-api authors
 */


#ifndef _NGX_HTTP_WS_API_MODULE_H_INCLUDED_
#define _NGX_HTTP_WS_API_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


extern ngx_module_t  ngx_http_ws_api_module;


#endif /* _NGX_HTTP_WS_API_MODULE_H_INCLUDED_ */
