#!/usr/bin/perl

# The unit tests of src/ngx_http_ws_api_param.c (t/unit/test_param.c),
# built by "make unit"; run by prove from the top of the tree.

exec './build/unit/test_param' or die "cannot run build/unit/test_param: $!\n";
