#!/usr/bin/perl

# Admin API, Teams (SPEC 2: ws_api_teams; SPEC 3.1 teams; SPEC 3.2): the
# /teams endpoints, team isolation between users, a non-superuser must
# assign one of their own teams, unknown teams, team deletion while
# assigned, and everything about teams while ws_api_teams is off.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Admin;

my $redis = start_redis();
my $nginx = start_nginx(http => admin_http(teams => 1));
my $A = admin_client($nginx);
sub as { my $u = shift; return admin_client($nginx, user => $u) }

my $url = 'ws://backend.internal:9000/feed';
my $r;

###############################################################################
# /teams CRUD

$r = $A->get('teams');
is($r->{status}, 200, 'GET teams: 200');
is_deeply($r->{json}{teams}, [], 'no team yet');

$r = $A->put('teams/trading', json => { description => 'Trading desk' });
is($r->{status}, 200, 'PUT teams/trading: 200');
is($r->{json}{name}, 'trading', 'name answered');
is($r->{json}{description}, 'Trading desk', 'description answered');

$r = $A->put('teams/ops');
is($r->{status}, 200, 'PUT teams/ops without a body: 200 (the description is optional)');
is($A->put('teams/research', json => {})->{status}, 200, 'PUT teams/research {}: 200');
is($A->put('teams/spare', json => { description => '' })->{status}, 200, 'PUT teams/spare: 200');

$r = $A->get('teams/trading');
is($r->{status}, 200, 'GET teams/trading: 200');
is($r->{json}{description}, 'Trading desk', 'description');
is($A->put('teams/trading', json => $r->{json})->{status}, 200, 'the GET answer can be PUT back');

$r = $A->put('teams/trading', json => { description => 'Trading and sales' });
is($r->{status}, 200, 'PUT replaces a team');
is($A->get('teams/trading')->{json}{description}, 'Trading and sales', 'description replaced');

$r = $A->get('teams');
is_deeply([sort map { $_->{name} } @{ $r->{json}{teams} || [] }], [qw(ops research spare trading)],
          'GET teams lists them');

my $before = redis_dump($redis);
error_is($A->get('teams/none'), 404, undef, 'GET an unknown team: 404');
error_is($A->del('teams/none'), 404, undef, 'DELETE an unknown team: 404');
error_is($A->put('teams/bad%20name'), 400, '*', 'a team name with a space: 400');
error_is($A->put('teams/x', json => { description => 5 }), 400, 'description', 'description not a string: 400');
error_is($A->put('teams/x', json => { description => 'd', members => [] }), 400, 'members',
         'an unknown member: 400');
error_is($A->put('teams/x', body => 'desc', headers => { 'Content-Type' => 'text/plain' }), 415, undef,
         'a body that is not JSON: 415');
is_deeply(redis_dump($redis), $before, 'the refusals changed nothing');

$r = $A->del('teams/spare');
is($r->{status}, 204, 'DELETE an unused team: 204');
error_is($A->get('teams/spare'), 404, undef, 'gone');

###############################################################################
# users with teams

for ([alice => ['trading']], [bob => ['ops']], [carol => ['trading', 'ops']], [dave => []]) {
    my ($u, $teams) = @$_;
    $r = $A->put("users/$u", json => { privileges => ['manage_apis', 'activate_apis'], teams => $teams });
    is($r->{status}, 200, "PUT users/$u with teams [@$teams]");
}
json_is($A->get('users/carol')->{json}, { name => 'carol', privileges => ['manage_apis', 'activate_apis'],
                                          teams => ['trading', 'ops'] }, 'GET users/carol');
$before = redis_dump($redis);
error_is($A->put('users/eve', json => { privileges => [], teams => ['ghost'] }), 400, qr/^teams/,
         'a user with an unknown team: 400');
error_is($A->put('users/eve', json => { privileges => [], teams => ['ops', 'ghost'] }), 400, qr/^teams/,
         'a user with a known and an unknown team: 400');
error_is($A->put('users/eve', json => { privileges => [], teams => 'ops' }), 400, qr/^teams/,
         'teams not an array: 400');
is_deeply(redis_dump($redis), $before, 'the refusals changed nothing');

# only manage_users manages teams
error_is(as('alice')->put('teams/alices'), 403, undef, 'PUT teams without manage_users: 403');
error_is(as('alice')->get('teams'), 403, undef, 'GET teams without manage_users: 403');
error_is(as('alice')->del('teams/ops'), 403, undef, 'DELETE teams without manage_users: 403');
is($A->put('users/tm', json => { privileges => ['manage_users'] })->{status}, 200, 'tm: manage_users');
is(as('tm')->put('teams/tm-team')->{status}, 200, 'manage_users: PUT teams');
is(as('tm')->get('teams/tm-team')->{status}, 200, 'manage_users: GET teams/{name}');
is(as('tm')->del('teams/tm-team')->{status}, 204, 'manage_users: DELETE teams');

###############################################################################
# a non-superuser assigns one of their own teams

my $alice = as('alice');
my $bob = as('bob');
my $carol = as('carol');
my $dave = as('dave');

$r = $alice->post('apis', json => { apiName => 'alice-api', teams => ['trading'], wsUrl => $url });
is($r->{status}, 201, 'alice creates an API of her team');
is_deeply($r->{json}{teams}, ['trading'], 'teams answered');
my $a_id = $r->{json}{id};

$before = redis_dump($redis);
error_is($alice->post('apis', json => { apiName => 'no-team' }), 403, '*',
         'alice creates an API without a team: 403');
error_is($alice->post('apis', json => { apiName => 'no-team', teams => [] }), 403, '*',
         'alice creates an API with teams []: 403');
error_is($alice->post('apis', json => { apiName => 'bobs', teams => ['ops'] }), 403, '*',
         'alice creates an API of a team she is not in: 403');
error_is($alice->post('apis', json => { apiName => 'ghost', teams => ['trading', 'ghost'] }), 400, qr/^teams/,
         'alice names an unknown team: 400');
error_is($dave->post('apis', json => { apiName => 'daves', teams => ['ops'] }), 403, '*',
         'dave (no team) cannot create an API with teams on: 403');
is_deeply(redis_dump($redis), $before, 'the refusals changed nothing');

$r = $alice->post('apis', json => { apiName => 'shared', teams => ['trading', 'ops'], wsUrl => $url });
is($r->{status}, 201, 'alice assigns her team and another one');
my $shared = $r->{json}{id};

$r = $bob->post('apis', json => { apiName => 'bob-api', teams => ['ops'], wsUrl => $url });
is($r->{status}, 201, 'bob creates an API of his team');
my $b_id = $r->{json}{id};

# the superuser
$before = redis_dump($redis);
error_is($A->post('apis', json => { apiName => 'su', teams => ['ghost'] }), 400, qr/^teams/,
         'superuser: an unknown team, 400');
error_is($A->post('apis', json => { apiName => 'su', teams => ['ops', 'ops'] }), 400, qr/^teams/,
         'superuser: a team named twice, 400 (SPEC silent)');
error_is($A->post('apis', json => { apiName => 'su', teams => ['bad name'] }), 400, qr/^teams/,
         'superuser: an invalid team name, 400');
is_deeply(redis_dump($redis), $before, 'the refusals changed nothing');
$r = $A->post('apis', json => { apiName => 'su-api', teams => ['research'], wsUrl => $url });
is($r->{status}, 201, 'superuser: any existing team, even one they are not in');
my $su_id = $r->{json}{id};

###############################################################################
# isolation

sub listed { my ($c) = @_; return [sort map { $_->{apiName} } @{ $c->get('apis')->{json}{apis} || [] }] }

is_deeply(listed($alice), [qw(alice-api shared)], 'alice sees the APIs of trading');
is_deeply(listed($bob), [qw(bob-api shared)], 'bob sees the APIs of ops');
is_deeply(listed($carol), [qw(alice-api bob-api shared)], 'carol (both teams) sees both');
is_deeply(listed($dave), [], 'dave (no team) sees none');
is_deeply(listed($A), [qw(alice-api bob-api shared su-api)], 'the superuser sees all');

$before = redis_dump($redis);
error_is($bob->get("apis/$a_id"), 403, undef, 'bob GET alice\'s API: 403');
error_is($bob->put("apis/$a_id", json => { apiName => 'alice-api', teams => ['ops'] }), 403, undef,
         'bob PUT alice\'s API: 403');
error_is($bob->del("apis/$a_id"), 403, undef, 'bob DELETE alice\'s API: 403');
error_is($bob->put("apis/$a_id/activate"), 403, undef, 'bob activates alice\'s API: 403');
error_is($bob->post("apis/$a_id/versions", json => { newApiVersion => '2' }), 403, undef,
         'bob makes a version of alice\'s API: 403');
error_is($alice->get("apis/$b_id"), 403, undef, 'alice GET bob\'s API: 403');
error_is($alice->put("apis/$b_id", json => { apiName => 'bob-api', teams => ['trading'] }), 403, undef,
         'alice PUT bob\'s API: 403');
error_is($alice->del("apis/$b_id"), 403, undef, 'alice DELETE bob\'s API: 403');
error_is($alice->get("apis/$su_id"), 403, undef, 'alice GET an API of a team she is not in: 403');
error_is($dave->get("apis/$a_id"), 403, undef, 'dave GET alice\'s API: 403');
is_deeply(redis_dump($redis), $before, 'the refusals changed nothing');

is($bob->get("apis/$shared")->{status}, 200, 'bob reads the shared API');
is($bob->put("apis/$shared/activate")->{status}, 200, 'bob activates the shared API');
is($alice->put("apis/$shared/deactivate")->{status}, 200, 'alice deactivates it');
is($carol->get("apis/$a_id")->{status}, 200, 'carol reads alice\'s API');
is($carol->put("apis/$b_id/activate")->{status}, 200, 'carol activates bob\'s API');
is($A->get("apis/$a_id")->{status}, 200, 'the superuser reads alice\'s API');

# keeping one's own team when changing an API
my $def = $alice->get("apis/$a_id")->{json};
$r = $alice->put("apis/$a_id", json => { %$def, apiDescription => 'edited' });
is($r->{status}, 200, 'alice edits her API');
error_is($alice->put("apis/$a_id", json => { %$def, teams => ['ops'] }), 403, '*',
         'alice cannot hand her API over to a team she is not in (SPEC silent)');
$r = $alice->post("apis/$a_id/versions", json => { newApiVersion => '2.0' });
is($r->{status}, 201, 'alice makes a new version of her API');
is_deeply($r->{json}{teams}, ['trading'], 'the version keeps the teams');
is_deeply(listed($bob), [qw(bob-api shared)], 'bob still does not see it');

# team membership changes apply at once
is($A->put('users/bob', json => { privileges => ['manage_apis', 'activate_apis'], teams => ['ops', 'trading'] })->{status},
   200, 'bob joins trading');
is($bob->get("apis/$a_id")->{status}, 200, 'bob now reads alice\'s API');
is($A->put('users/bob', json => { privileges => ['manage_apis', 'activate_apis'], teams => ['ops'] })->{status},
   200, 'bob leaves trading');
error_is($bob->get("apis/$a_id"), 403, undef, 'bob can no longer read it');

###############################################################################
# a team cannot be deleted while assigned

$before = redis_dump($redis);
$r = $A->del('teams/research');
error_is($r, 409, '*', 'DELETE a team assigned to an API: 409');
error_is($A->del('teams/trading'), 409, '*', 'DELETE a team assigned to APIs and users: 409');
is_deeply(redis_dump($redis), $before, 'the refusals changed nothing');
is($A->del("apis/$su_id")->{status}, 204, 'delete the API of research');
is($A->del('teams/research')->{status}, 204, 'then the team can be deleted');

is($A->put('teams/solo')->{status}, 200, 'a team for a user only');
is($A->put('users/solo', json => { privileges => [], teams => ['solo'] })->{status}, 200, 'a user in it');
error_is($A->del('teams/solo'), 409, '*', 'DELETE a team assigned to a user: 409');
is($A->put('users/solo', json => { privileges => [], teams => [] })->{status}, 200, 'the user leaves it');
is($A->del('teams/solo')->{status}, 204, 'then the team can be deleted');

###############################################################################
# teams off

my $off = start_nginx(http => admin_http(redis_opts => 'prefix=off:'));
my $O = admin_client($off);

$before = redis_dump($redis);
error_is($O->get('teams'), 404, undef, 'teams off: GET teams 404');
error_is($O->get('teams/trading'), 404, undef, 'teams off: GET teams/{name} 404');
error_is($O->put('teams/x', json => { description => 'd' }), 404, undef, 'teams off: PUT teams/{name} 404');
error_is($O->del('teams/x'), 404, undef, 'teams off: DELETE teams/{name} 404');
error_is($O->post('apis', json => { apiName => 'x', teams => ['trading'] }), 400, qr/^teams/,
         'teams off: an API with teams, 400');
error_is($O->put('users/u', json => { privileges => [], teams => ['trading'] }), 400, qr/^teams/,
         'teams off: a user with teams, 400');
is_deeply(redis_dump($redis), $before, 'the refusals changed nothing');

$r = $O->post('apis', json => { apiName => 'open', teams => [] });
is($r->{status}, 201, 'teams off: an API with teams [] is accepted (what GET answers, SPEC silent)');
my $o_id = $r->{json}{id};
is($O->put("apis/$o_id", json => $O->get("apis/$o_id")->{json})->{status}, 200,
   'teams off: the GET answer can be PUT back');
is($O->put('users/u', json => { privileges => ['manage_apis'] })->{status}, 200, 'teams off: a user');
is(admin_client($off, user => 'u')->get("apis/$o_id")->{status}, 200,
   'teams off: every user sees every API');
is(admin_client($off, user => 'u')->post('apis', json => { apiName => 'by-u' })->{status}, 201,
   'teams off: a user creates an API without a team');

no_crash($nginx, $off);

done_testing;
