#!/usr/bin/perl

# The unit tests of src/ngx_http_ws_api_jwt.c (t/unit/test_jwt.c), built
# by "make unit"; run by prove from the top of the tree.

exec './build/unit/test_jwt' or die "cannot run build/unit/test_jwt: $!\n";
