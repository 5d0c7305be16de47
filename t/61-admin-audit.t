#!/usr/bin/perl

# Admin audit and X-Request-Id (SPEC 7, issue 9 item 5): every write
# carried out logs at info
#     ws_api admin: "<identity>" <op> <kind> "<id>" rev <N>
# (N: the "rev" of Redis the change was published under), a write refused
# logs no such line, and every answer of the admin location, its own or
# nginx's (413), carries X-Request-Id = $request_id.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Admin;

my $redis = start_redis();
my $nginx = start_nginx(http => admin_http(teams => 1),
                        log_format => '$request_id $status $request_method $uri');
my $A = admin_client($nginx);
my $r;

my %seen;          # X-Request-Id => status, every answer below
my $tracked = 0;

sub track {
    my ($r, $name) = @_;
    my $id = $r->{headers}{'x-request-id'};
    ok(defined $id && $id =~ /^[0-9a-f]{32}$/,
       "$name: X-Request-Id ($r->{status})")
        or diag(explain $r->{headers});
    $seen{$id} = $r->{status} if defined $id;
    $tracked++;
    return $r;
}

sub rev { return $redis->cmd('GET', 'wsapi:rev') // 0 }

# the audit lines written since $mark
sub audit_since {
    my ($mark) = @_;
    my $log = $nginx->error_log(from => $mark);
    return $log =~ /ws_api admin: ("[^"\n]*" \w+ \w+ "[^"\n]*" rev \d+)/g;
}

# one write: its status, then exactly one audit line, equal to $line
sub write_ok {
    my ($name, $status, $code, $line) = @_;
    my $mark = $nginx->log_mark;
    my $r = track($code->(), $name);
    is($r->{status}, $status, "$name: $status") or diag($r->{body});
    my $rev = rev();
    my $want = ref $line ? $line->($r, $rev) : $line;
    $want =~ s/\bREV\b/$rev/;
    $nginx->wait_error_log(qr/\Q$want\E/, timeout_scale(5), from => $mark);
    my @a = audit_since($mark);
    is_deeply(\@a, [$want], "$name: the audit line") or diag(explain \@a);
    return $r;
}

# one refused write: its status and no audit line
sub refused {
    my ($name, $status, $code) = @_;
    my $mark = $nginx->log_mark;
    my $rev = rev();
    my $r = track($code->(), $name);
    is($r->{status}, $status, "$name: $status") or diag($r->{body});
    is(rev(), $rev, "$name: nothing changed");
    my @a = audit_since($mark);
    is_deeply(\@a, [], "$name: no audit line");
    return $r;
}

###############################################################################
# every write op

$r = write_ok('PUT teams/desk', 200,
              sub { $A->put('teams/desk', json => { description => 'Desk' }) },
              '"admin" put team "desk" rev REV');

$r = write_ok('PUT users/ops1', 200,
              sub { $A->put('users/ops1', json => { privileges => ['manage_apis', 'activate_apis'],
                                                     teams => ['desk'] }) },
              '"admin" put user "ops1" rev REV');

my $api;
$r = write_ok('POST apis (create)', 201,
              sub { $A->post('apis', json => sample_api(teams => ['desk']), user => 'ops1') },
              sub { "\"ops1\" create api \"$_[0]{json}{id}\" rev $_[1]" });
my $id = $r->{json}{id};

write_ok('PUT apis/{id} (replace)', 200,
         sub { $A->put("apis/$id", json => sample_api(teams => ['desk'], apiDescription => 'new')) },
         "\"admin\" replace api \"$id\" rev REV");

write_ok('PUT apis/{id}/activate', 200, sub { $A->put("apis/$id/activate") },
         "\"admin\" activate api \"$id\" rev REV");

write_ok('PUT apis/{id}/deactivate', 200, sub { $A->put("apis/$id/deactivate") },
         "\"admin\" deactivate api \"$id\" rev REV");

$r = write_ok('POST apis/{id}/versions', 201,
              sub { $A->post("apis/$id/versions", json => { newApiVersion => '2.0' }) },
              sub { "\"admin\" version api \"$_[0]{json}{id}\" rev $_[1]" });
my $id2 = $r->{json}{id};
isnt($id2, $id, 'the new version has its own id (logged)');

# import: the AsyncAPI export of version 2.0, imported once 2.0 is deleted
my $doc = track($A->get("apis/$id2/asyncapi"), 'GET apis/{id}/asyncapi');
is($doc->{status}, 200, 'the AsyncAPI export');

write_ok('DELETE apis/{id}', 204, sub { $A->del("apis/$id2") },
         "\"admin\" delete api \"$id2\" rev REV");

write_ok('POST apis (import)', 201,
         sub { $A->post('apis', body => $doc->{body},
                        headers => { 'Content-Type' => 'application/vnd.aai.asyncapi+json' }) },
         sub { "\"admin\" import api \"$_[0]{json}{id}\" rev $_[1]" });

write_ok('DELETE users/ops1', 204, sub { $A->del('users/ops1') },
         '"admin" delete user "ops1" rev REV');

write_ok('PUT teams/spare', 200, sub { $A->put('teams/spare') },
         '"admin" put team "spare" rev REV');
write_ok('DELETE teams/spare', 204, sub { $A->del('teams/spare') },
         '"admin" delete team "spare" rev REV');

###############################################################################
# refused writes: no audit line

refused('POST apis, the name taken', 409, sub { $A->post('apis', json => sample_api()) });
refused('POST apis, malformed JSON', 400,
        sub { $A->post('apis', body => '{', headers => { 'Content-Type' => 'application/json' }) });
refused('POST apis, not JSON', 415,
        sub { $A->post('apis', body => 'x', headers => { 'Content-Type' => 'text/plain' }) });
refused('DELETE apis/{unknown}', 404,
        sub { $A->del('apis/00000000-0000-4000-8000-000000000000') });
refused('DELETE users/{unknown}', 404, sub { $A->del('users/nobody') });
write_ok('PUT apis/{id}/activate again', 200, sub { $A->put("apis/$id/activate") },
         "\"admin\" activate api \"$id\" rev REV");
refused('PUT apis/{id}/activate, already active', 409, sub { $A->put("apis/$id/activate") });
refused('DELETE teams/desk, still in use', 409, sub { $A->del('teams/desk') });
refused('POST apis by a user without privileges', 403,
        sub { $A->post('apis', json => sample_api(apiName => 'x'), user => 'nobody') });
refused('POST apis with no identity', 401,
        sub { $A->post('apis', json => sample_api(apiName => 'y'), user => undef) });
refused('PATCH apis', 405, sub { $A->req(PATCH => 'apis') });

# nginx's own error (the body too large), made JSON: X-Request-Id too
{
    my $big = '{"apiName":"big","x":"' . ('a' x (1024 * 1024)) . '"}';
    refused('POST apis of 1 MiB + (nginx\'s 413)', 413,
            sub { $A->post('apis', body => $big, headers => { 'Content-Type' => 'application/json' }) });
}

# reads
track($A->get('apis'), 'GET apis');
track($A->get("apis/$id"), 'GET apis/{id}');
track($A->get('health'), 'GET health');
track($A->get('me'), 'GET me');
track($A->get('nothing'), 'GET nothing (404)');

# 503: Redis stopped
$redis->stop;
$r = track($A->post('apis', json => sample_api(apiName => 'z')), 'POST apis, Redis stopped');
is($r->{status}, 503, 'Redis stopped: 503');
$r = track($A->get('health'), 'GET health, Redis stopped');
is($r->{status}, 503, 'health, Redis stopped: 503');
$redis->start;

###############################################################################
# X-Request-Id is the $request_id that the access log has

ok(poll_until(timeout_scale(5), sub {
    my $log = $nginx->access_log;
    !grep { $log !~ /^\Q$_\E \Q$seen{$_}\E /m } keys %seen;
}), 'every X-Request-Id is the $request_id of its request in the access log, with its status')
    or diag(join "\n", grep { $nginx->access_log !~ /^\Q$_\E / } keys %seen);

my %statuses = map { $_ => 1 } values %seen;
is(join(',', sort keys %statuses), '200,201,204,400,401,403,404,405,409,413,415,503',
   'X-Request-Id seen on every kind of answer');
is(scalar(keys %seen), $tracked, 'a new id for every request');

done_testing;
