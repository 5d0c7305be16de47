#!/usr/bin/perl

# The unit tests of src/ngx_http_ws_api_schema.c (t/unit/test_schema.c):
# cases of our own, then the JSON-Schema-Test-Suite of drafts 4, 6 and 7
# (Debian package json-schema-test-suite) with pass counts per draft and
# per file; built by "make unit"; run by prove from the top of the tree.

exec './build/unit/test_schema' or die "cannot run build/unit/test_schema: $!\n";
