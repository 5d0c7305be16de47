#!/usr/bin/perl

# Admin API, applications (SPEC 3.4): create (201, Location, the API key
# shown this once), list, read, replace, delete; keys added and deleted;
# only the key's SHA-256 in Redis (app:{id}, apps, appkey:{sha256});
# the manage_applications privilege (superusers hold it); teams as for
# APIs; errors 400 (with field), 403, 404, 405, 409; a refused request
# changes nothing in Redis.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(sha256_hex);
use WsApi::Test;
use WsApi::Admin;

my $redis = start_redis();
my $nginx = start_nginx(http => admin_http(teams => 1));
my $A = admin_client($nginx);
sub as { my $u = shift; return admin_client($nginx, user => $u) }

my $r;

# two APIs to register to
my $api1 = $A->create({ apiName => 'ticker', wsUrl => 'ws://127.0.0.1:9/s' })->{id};
my $api2 = $A->create({ apiName => 'news', wsUrl => 'ws://127.0.0.1:9/s' })->{id};

###############################################################################
# create

$r = $A->post('applications', json => { name => 'ticker-web', description => 'the web app',
                                         apiIds => [ $api1 ] });
is($r->{status}, 201, 'POST applications: 201');
my $app = $r->{json};
like($app->{id} // '', uuid_like(), 'an id, a UUID');
like($r->{headers}{location} // '', qr{/rest/apigateway/applications/\Q$app->{id}\E$}, 'Location');
my $key = $app->{apiKey} // '';
like($key, qr/^[A-Za-z0-9_-]{43}$/, 'apiKey: 256 bits of base64url');
like($app->{keyId} // '', qr/^[0-9a-f]{16}$/, 'keyId');
is($app->{name}, 'ticker-web', 'name');
is($app->{description}, 'the web app', 'description');
is_deeply($app->{apiIds}, [ $api1 ], 'apiIds');
is_deeply($app->{teams}, [], 'teams: none');
is(scalar @{ $app->{keys} }, 1, 'one key');
is($app->{keys}[0]{id}, $app->{keyId}, 'listed by its id');
ok(!exists $app->{keys}[0]{sha256}, 'the hash is not shown');
like($app->{createdAt} // '', rfc3339_like(), 'createdAt');

my $id = $app->{id};

# Redis holds the hash only
{
    my $d = redis_dump($redis);
    my $stored = $d->{"wsapi:app:$id"}[1] // '';
    unlike($stored, qr/\Q$key\E/, 'app:{id} never holds the key');
    my $j = json_decode($stored);
    is($j->{keys}[0]{sha256}, sha256_hex($key), 'app:{id} holds its SHA-256');
    is($d->{'wsapi:appkey:' . sha256_hex($key)}[1], $id, 'appkey:{sha256} -> id');
    is_deeply($d->{'wsapi:apps'}[1], [ $id ], 'apps: the set of ids');
    my @leak = grep { ($d->{$_}[0] eq 'string' && $d->{$_}[1] =~ /\Q$key\E/) || /\Q$key\E/ } keys %$d;
    is(scalar @leak, 0, 'no Redis key or value holds the key');
}

# read, list
$r = $A->get("applications/$id");
is($r->{status}, 200, 'GET applications/{id}: 200');
ok(!exists $r->{json}{apiKey}, 'the key is not shown again');
is($r->{json}{name}, 'ticker-web', 'name');
ok(!exists $r->{json}{keys}[0]{sha256}, 'nor its hash');

$A->post('applications', json => { name => 'alpha' });
$r = $A->get('applications');
is($r->{status}, 200, 'GET applications: 200');
is_deeply([ map { $_->{name} } @{ $r->{json}{applications} } ], [ 'alpha', 'ticker-web' ],
          'lists them, by name');
ok(!grep({ exists $_->{apiKey} } @{ $r->{json}{applications} }), 'no key in the list');

###############################################################################
# replace

my $rev = $redis->cmd('GET', 'wsapi:rev');
$r = $A->put("applications/$id", json => { name => 'ticker-web', apiIds => [ $api1, $api2 ] });
is($r->{status}, 200, 'PUT applications/{id}: 200');
is_deeply($r->{json}{apiIds}, [ $api1, $api2 ], 'registered to two APIs');
is($r->{json}{description}, '', 'a full replacement: description back to ""');
is(scalar @{ $r->{json}{keys} }, 1, 'the keys stay');
is($r->{json}{revision}, 2, 'revision 2');
ok($redis->cmd('GET', 'wsapi:rev') > $rev, 'rev incremented');

$r = $A->get("applications/$id");
is($A->put("applications/$id", json => $r->{json})->{status}, 200, 'the GET answer can be PUT back');

###############################################################################
# keys: rotation, deletion

$r = $A->post("applications/$id/keys");
is($r->{status}, 201, 'POST applications/{id}/keys: 201');
my $key2 = $r->{json}{apiKey} // '';
my $kid2 = $r->{json}{keyId};
like($key2, qr/^[A-Za-z0-9_-]{43}$/, 'a new key');
isnt($key2, $key, 'another key');
is(scalar @{ $r->{json}{keys} }, 2, 'two keys valid during the rotation');
is($redis->cmd('GET', 'wsapi:appkey:' . sha256_hex($key)), $id, 'the old key stays valid');
is($redis->cmd('GET', 'wsapi:appkey:' . sha256_hex($key2)), $id, 'the new one is valid');

$r = $A->del("applications/$id/keys/$app->{keyId}");
is($r->{status}, 204, 'DELETE applications/{id}/keys/{keyId}: 204');
ok(!defined $redis->cmd('GET', 'wsapi:appkey:' . sha256_hex($key)), 'the old key is gone');
is($redis->cmd('GET', 'wsapi:appkey:' . sha256_hex($key2)), $id, 'the new one stays');
is_deeply([ map { $_->{id} } @{ $A->get("applications/$id")->{json}{keys} } ], [ $kid2 ],
          'one key left');
error_is($A->del("applications/$id/keys/$app->{keyId}"), 404, undef, 'a key deleted twice: 404');
error_is($A->del("applications/$id/keys/nope"), 404, undef, 'an unknown key id: 404');

###############################################################################
# errors: nothing changes

my $before = redis_dump($redis);

error_is($A->post('applications', json => { description => 'x' }), 400, 'name', 'no name: 400');
error_is($A->post('applications', json => { name => 'a b' }), 400, 'name', 'a bad name: 400');
error_is($A->post('applications', json => { name => 'x' x 101 }), 400, 'name', 'a name too long: 400');
error_is($A->post('applications', json => { name => 'x', color => 'red' }), 400, undef,
         'an unknown member: 400');
error_is($A->post('applications', json => { name => 'x', apiIds => 'a' }), 400, 'apiIds',
         'apiIds not an array: 400');
error_is($A->post('applications', json => { name => 'x', apiIds => [ $api1, 'nope' ] }), 400,
         'apiIds[1]', 'apiIds[1] not an id: 400');
error_is($A->post('applications', json => { name => 'x', apiIds => [ $api1, $api1 ] }), 400,
         'apiIds[1]', 'apiIds[1] a duplicate: 400');
error_is($A->post('applications', json => { name => 'x',
                                            apiIds => [ $api2, '00000000-0000-4000-8000-000000000000' ] }),
         400, 'apiIds[1]', 'apiIds[1] names no API: 400');
error_is($A->post('applications', json => { name => 'x', description => 5 }), 400, 'description',
         'description not a string: 400');
error_is($A->post('applications', json => { name => 'x', teams => [ 'nope' ] }), 400, 'teams',
         'an unknown team: 400');
error_is($A->post('applications', body => 'not json', headers => { 'Content-Type' => 'application/json' }),
         400, undef, 'malformed JSON: 400');
error_is($A->post('applications', json => { name => 'ticker-web' }), 409, 'name', 'a name taken: 409');
error_is($A->put("applications/$id", json => { name => 'alpha' }), 409, 'name',
         'renamed to a name taken: 409');
error_is($A->get('applications/00000000-0000-4000-8000-000000000000'), 404, undef, 'an unknown id: 404');
error_is($A->get('applications/nope'), 404, undef, 'not an id: 404');
error_is($A->put('applications/00000000-0000-4000-8000-000000000000', json => { name => 'z' }), 404,
         undef, 'PUT an unknown id: 404');
error_is($A->post('applications/00000000-0000-4000-8000-000000000000/keys'), 404, undef,
         'a key for an unknown id: 404');
$r = $A->req(PATCH => "applications/$id");
error_is($r, 405, undef, 'PATCH: 405');
like($r->{headers}{allow} // '', qr/PUT/, 'with Allow');
error_is($A->get("applications/$id/nope"), 404, undef, 'an unknown sub-path: 404');

# privileges
$A->put('teams/trading');
$A->put('teams/ops');
$A->put('users/bob', json => { privileges => [ 'manage_apis' ], teams => [ 'trading' ] });
$A->put('users/carol', json => { privileges => [ 'manage_applications' ], teams => [ 'trading' ] });
$A->put('users/dave', json => { privileges => [ 'manage_applications' ], teams => [ 'ops' ] });
$before = redis_dump($redis);

error_is(as('bob')->get('applications'), 403, undef, 'without manage_applications: 403 on GET');
error_is(as('bob')->post('applications', json => { name => 'b' }), 403, undef,
         'without manage_applications: 403 on POST');
error_is(as('bob')->del("applications/$id"), 403, undef, 'without manage_applications: 403 on DELETE');
error_is(as(undef)->get('applications'), 401, undef, 'no identity: 401');
error_is(as('carol')->post('applications', json => { name => 'c' }), 403, 'teams',
         'with teams on, a non-superuser assigns one of their teams: 403');
is_deeply(redis_dump($redis), $before, 'the refused requests changed nothing in Redis');

# teams
$r = as('carol')->post('applications', json => { name => 'carol-app', teams => [ 'trading' ] });
is($r->{status}, 201, 'with manage_applications and a team of theirs: 201');
my $cid = $r->{json}{id};
ok(length($r->{json}{apiKey} // ''), 'a key');
is_deeply([ map { $_->{name} } @{ as('carol')->get('applications')->{json}{applications} } ],
          [ 'carol-app' ], 'carol sees only the applications of her teams');
is_deeply(as('dave')->get('applications')->{json}{applications}, [], 'dave sees none');
error_is(as('dave')->get("applications/$cid"), 403, undef, 'another team: 403 on GET');
error_is(as('dave')->del("applications/$cid"), 403, undef, 'another team: 403 on DELETE');
error_is(as('dave')->post("applications/$cid/keys"), 403, undef, 'another team: 403 on a new key');
is(as('carol')->put("applications/$cid", json => { name => 'carol-app', teams => [ 'trading', 'ops' ] })
   ->{status}, 200, 'carol adds team ops');
is(as('dave')->get("applications/$cid")->{status}, 200, 'which dave sees now');
is(scalar @{ $A->get('applications')->{json}{applications} }, 3, 'a superuser sees all');

$A->put('teams/spare');
$r = $A->post('applications', json => { name => 'spare-app', teams => [ 'spare' ] });
is($r->{status}, 201, 'an application of team spare');
error_is($A->del('teams/spare'), 409, undef, 'a team an application has cannot be deleted: 409');
is($A->del("applications/$r->{json}{id}")->{status}, 204, 'the application deleted');
is($A->del('teams/spare')->{status}, 204, 'then the team can be');

$r = $A->get('me');
ok(grep({ $_ eq 'manage_applications' } @{ $r->{json}{privileges} }), 'a superuser holds manage_applications');

###############################################################################
# delete

my $k2hash = sha256_hex($key2);
$r = $A->del("applications/$id");
is($r->{status}, 204, 'DELETE applications/{id}: 204');
ok(!defined $redis->cmd('GET', "wsapi:app:$id"), 'app:{id} gone');
ok(!defined $redis->cmd('GET', "wsapi:appkey:$k2hash"), 'its keys gone');
ok(!grep({ $_ eq $id } $redis->cmd('SMEMBERS', 'wsapi:apps')), 'out of apps');
error_is($A->get("applications/$id"), 404, undef, 'then 404');
error_is($A->del("applications/$id"), 404, undef, 'deleted twice: 404');

no_crash($nginx);

done_testing;
