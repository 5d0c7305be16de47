#!/usr/bin/perl

# The unit tests of src/ngx_http_ws_api_def.c (t/unit/test_def.c and
# t/unit/def_cases.json), built by "make unit"; run by prove from the top
# of the tree.

exec './build/unit/test_def' or die "cannot run build/unit/test_def: $!\n";
