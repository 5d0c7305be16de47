#!/usr/bin/perl

# The README's session, against the http block of conf/nginx.conf (the
# configuration "make run" starts), its ports and paths moved to the
# test's own: create an API with basic information only, activation
# refused until wsUrl is set, complete it, activate it, connect through
# the gateway, be refused with a precise reason, be closed with 1003.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Readme;

WsApi::Readme::session();

done_testing;
