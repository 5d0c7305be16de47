#!/usr/bin/perl

# Admin API, API definitions (SPEC 3.1, 3.2): create, list, read, replace,
# delete; ETag, If-Match, Location; validation errors with their field;
# unknown members; label aliases; the canonical output form.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Admin;

my $redis = start_redis();
my $nginx = start_nginx(http => admin_http());
my $A = admin_client($nginx);

my $UUID = uuid_like();
my $TIME = rfc3339_like();

# the members of a definition, in the order of SPEC 3.1
my @ORDER = qw(id type apiName apiVersion apiDescription teams wsUrl parameters
               messages policies isActive gatewayEndpoints revision createdAt updatedAt);

# the canonical form of sample_api() (SPEC 3.1), less id and times
my %CANON = (
    type           => 'websocket',
    apiName        => 'ticker',
    apiVersion     => '1.0',
    apiDescription => 'Live prices',
    teams          => [],
    wsUrl          => 'ws://prices.internal:9001/stream',
    parameters     => [
        { name => 'symbol', description => '', in => 'query', dataType => 'string',
          required => true, array => true, values => ['AAPL', 'MSFT'] },
        { name => 'X-Client-Id', description => '', in => 'header', dataType => 'integer',
          required => false, array => false, values => [] },
    ],
    messages => [
        { origin => 'client', type => 'text', samplePayload => '{"subscribe":"AAPL"}',
          description => 'subscribe' },
        { origin => 'server', type => 'binary', samplePayload => '', description => 'price tick' },
    ],
    policies         => {},
    isActive         => false,
    gatewayEndpoints => [],
    revision         => 1,
);

sub strip_times {
    my ($d) = @_;
    my %c = %$d;
    delete @c{qw(id createdAt updatedAt)};
    return \%c;
}

# the top-level members of a JSON object text, in order (a tiny scanner)
sub top_keys {
    my ($text) = @_;
    my (@keys, $depth, $in_str, $esc, $start);
    $depth = 0;
    for (my $i = 0; $i < length $text; $i++) {
        my $c = substr($text, $i, 1);
        if ($in_str) {
            if ($esc) { $esc = 0; next }
            if ($c eq '\\') { $esc = 1; next }
            if ($c eq '"') {
                $in_str = 0;
                if ($depth == 1 && defined $start) {
                    my $s = substr($text, $start, $i - $start);
                    my $rest = substr($text, $i + 1);
                    push @keys, $s if $rest =~ /^\s*:/;
                }
                undef $start;
            }
            next;
        }
        if ($c eq '"') { $in_str = 1; $start = $i + 1; next }
        $depth++ if $c eq '{' || $c eq '[';
        $depth-- if $c eq '}' || $c eq ']';
    }
    return @keys;
}

###############################################################################
# create

my $before = redis_dump($redis);
my $r = $A->post('apis', json => sample_api());
is($r->{status}, 201, 'POST apis: 201');
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON answer');
my $api = $r->{json};
my $id = $api->{id};
like($id // '', $UUID, 'id is a generated UUID');
is($r->{headers}{etag}, '"1"', 'ETag "1" (the revision)');
like($r->{headers}{location} // '', qr{^(?:http://127\.0\.0\.1:\d+)?/rest/apigateway/apis/\Q$id\E$},
     'Location names the new API under the admin location');
json_is(strip_times($api), \%CANON, 'the answer is the definition in canonical form (SPEC 3.1)');
like($api->{createdAt} // '', $TIME, 'createdAt is RFC 3339');
like($api->{updatedAt} // '', $TIME, 'updatedAt is RFC 3339');
is_deeply([top_keys($r->{body})], \@ORDER, 'members in the order of SPEC 3.1');
isnt(json_encode(redis_dump($redis)), json_encode($before), 'Redis changed');

(my $loc = $r->{headers}{location} // '') =~ s{^http://[^/]+}{};
$r = http_request(GET => 'http://127.0.0.1:' . $nginx->port('admin') . $loc,
                  headers => { 'X-User' => 'admin' });
is($r->{status}, 200, 'GET on the Location: 200');
is($r->{json}{id}, $id, 'the Location leads to the API');

###############################################################################
# read

$r = $A->get("apis/$id");
is($r->{status}, 200, 'GET apis/{id}: 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON answer');
is($r->{headers}{etag}, '"1"', 'ETag "1"');
json_is($r->{json}, $api, 'GET answers what POST answered');

$r = $A->get("apis/$id", headers => { 'If-None-Match' => '"1"' });
is($r->{status}, 304, 'If-None-Match with the current ETag: 304 (SPEC silent)');

$r = $A->get('apis');
is($r->{status}, 200, 'GET apis: 200');
is(ref $r->{json}{apis}, 'ARRAY', '{"apis": [...]}');
my ($sum) = grep { ($_->{id} // '') eq $id } @{ $r->{json}{apis} || [] };
ok($sum, 'the API is in the list');
is_deeply([@{$sum || {}}{qw(id apiName apiVersion)}], [$id, 'ticker', '1.0'],
          'summary: id, apiName, apiVersion');
is($sum->{isActive}, false, 'summary: isActive false');

###############################################################################
# defaults, minimal definitions

$r = $A->post('apis', json => { apiName => 'basic' });
is($r->{status}, 201, 'apiName alone is enough');
my $basic = $r->{json};
is($basic->{apiVersion}, '1.0', 'apiVersion defaults to "1.0"');
is($basic->{type}, 'websocket', 'type defaults to "websocket"');
ok(!defined $basic->{wsUrl}, 'wsUrl absent or null');
is_deeply([@{$basic}{qw(parameters messages gatewayEndpoints)}], [[], [], []],
          'empty parameters, messages, gatewayEndpoints');
is_deeply($basic->{policies} // {}, {}, 'policies empty');
is($basic->{isActive}, false, 'created inactive');

$r = $A->post('apis', json => { apiName => 'basic', wsUrl => undef, apiVersion => '2.0',
                                 type => 'websocket', policies => {} });
is($r->{status}, 201, 'wsUrl null, explicit type and empty policies accepted');

$r = $A->post('apis', json => { apiName => 'a' x 100, apiVersion => 'v' x 100 });
is($r->{status}, 201, 'apiName and apiVersion of 100 characters');
$r = $A->post('apis', json => { apiName => 'Az09._-', apiVersion => '2.0-beta_1' });
is($r->{status}, 201, 'letters, digits, ".", "_", "-"');
is($r->{json}{apiName}, 'Az09._-', 'apiName kept as given');

# SPEC 6: "apiName and apiVersion may not be . or .."
for my $c (['..', '1.0', 'apiName'], ['.', '1.0', 'apiName'], ['dots', '.', 'apiVersion'],
           ['dots', '..', 'apiVersion']) {
    $r = $A->post('apis', json => { apiName => $c->[0], apiVersion => $c->[1] });
    is($r->{status}, 400, "apiName \"$c->[0]\", apiVersion \"$c->[1]\": 400 (SPEC 6)")
        or diag($r->{body});
    is($r->{json}{error}{field}, $c->[2], "... field $c->[2]");
}
$r = $A->post('apis', json => { apiName => '...', apiVersion => '.1' });
is($r->{status}, 201, 'apiName "...", apiVersion ".1": valid');
$r = $A->post("apis/$r->{json}{id}/versions", json => { newApiVersion => '..' });
is($r->{status}, 400, 'newApiVersion "..": 400');
is($r->{json}{error}{field}, 'newApiVersion', '... field newApiVersion');

$r = $A->post('apis', json => { apiName => 'utf', apiDescription => "Cours en direct \x{2014} \x{20ac}" });
is($r->{status}, 201, 'UTF-8 description');
is($A->get("apis/$r->{json}{id}")->{json}{apiDescription}, "Cours en direct \x{2014} \x{20ac}",
   'UTF-8 description round trip');

###############################################################################
# label aliases on input, canonical forms on output (SPEC 3.1)

my @types = (['String', 'string'], ['Date', 'date'], ['Date time', 'date-time'],
             ['Integer', 'integer'], ['Double', 'double'], ['Boolean', 'boolean'],
             ['string', 'string'], ['date', 'date'], ['date-time', 'date-time'],
             ['integer', 'integer'], ['double', 'double'], ['boolean', 'boolean']);
my @ins = (['Query-string', 'query'], ['Header', 'header'], ['QUERY', 'query'],
           ['hEaDeR', 'header'], ['query-STRING', 'query'], ['query', 'query']);
my @params;
for my $i (0 .. $#types) {
    push @params, { name => "q$i", in => $ins[$i % @ins][0], dataType => $types[$i][0] };
}
$r = $A->post('apis', json => {
    apiName => 'labels',
    wsUrl => 'WS://backend:80/x',
    parameters => \@params,
    messages => [
        { origin => 'Client', type => 'Text' },
        { origin => 'SERVER', type => 'BINARY' },
        { origin => 'server', type => 'tExT' },
        { origin => 'cLiEnT', type => 'binary' },
    ],
});
is($r->{status}, 201, 'labels and any-case values accepted');
is_deeply([map { $_->{dataType} } @{ $r->{json}{parameters} || [] }],
          [map { $_->[1] } @types], 'dataType labels become canonical names');
is_deeply([map { $_->{in} } @{ $r->{json}{parameters} || [] }],
          [map { $ins[$_ % @ins][1] } 0 .. $#types], '"in" labels become query / header');
is_deeply([map { "$_->{origin}/$_->{type}" } @{ $r->{json}{messages} || [] }],
          ['client/text', 'server/binary', 'server/text', 'client/binary'],
          'message origin and type in lower case');
is_deeply([map { [$_->{required}, $_->{array}, $_->{values}] } @{ $r->{json}{parameters} || [] }],
          [map { [false, false, []] } @types], 'required, array default to false');
json_is($A->get("apis/$r->{json}{id}")->{json}{messages}, $r->{json}{messages},
        'stored in canonical form');
is($r->{json}{wsUrl}, 'ws://backend:80/x', 'wsUrl scheme in lower case (SPEC silent)');

$r = $A->post('apis', json => {
    apiName => 'values',
    parameters => [
        { name => 'n', dataType => 'integer', values => ['1', '-2', '30'] },
        { name => 'd', dataType => 'date', values => ['2026-11-28'] },
        { name => 't', dataType => 'Date time', values => ['2026-11-28T10:15:00Z', '2026-11-28T10:15:00.5+01:00'] },
        { name => 'b', dataType => 'boolean', values => ['true', 'false'] },
        { name => 'x', dataType => 'double', values => ['1.5', '-2e3'] },
        { name => 'H', in => 'header', values => ['a b', ''] },
        { name => 'h', in => 'query' },
        { name => 'N', in => 'query' },
    ],
});
is($r->{status}, 201, 'values of each data type; a query and a header parameter may share a name; '
   . 'query names are case-sensitive ("n" and "N")');
is_deeply($r->{json}{parameters}[0]{values}, ['1', '-2', '30'], 'values kept');

###############################################################################
# validation: 400 with the field at fault; Redis unchanged

my @invalid = (
    ['apiName missing',              { apiVersion => '1.0' },                         'apiName'],
    ['apiName empty',                { apiName => '' },                               'apiName'],
    ['apiName of 101 characters',    { apiName => 'a' x 101 },                        'apiName'],
    ['apiName with a space',         { apiName => 'bad name' },                       'apiName'],
    ['apiName with a slash',         { apiName => 'a/b' },                            'apiName'],
    ['apiName with a colon',         { apiName => 'a:b' },                            'apiName'],
    ['apiName not a string',         { apiName => 42 },                               'apiName'],
    ['apiName null',                 { apiName => undef },                            'apiName'],
    ['apiVersion with a space',      { apiName => 'v', apiVersion => '1 0' },         'apiVersion'],
    ['apiVersion empty',             { apiName => 'v', apiVersion => '' },            'apiVersion'],
    ['apiVersion of 101 characters', { apiName => 'v', apiVersion => '1' x 101 },     'apiVersion'],
    ['apiVersion a number',          { apiName => 'v', apiVersion => 1.0 },           'apiVersion'],
    ['type rest',                    { apiName => 'v', type => 'rest' },              'type'],
    ['type soap',                    { apiName => 'v', type => 'SOAP' },              'type'],
    ['apiName not ASCII',            { apiName => "prix-\x{e9}" },                    'apiName'],
    ['wsUrl http',                   { apiName => 'v', wsUrl => 'http://h:1/p' },     'wsUrl'],
    ['wsUrl without scheme',         { apiName => 'v', wsUrl => 'prices.internal:9001/stream' }, 'wsUrl'],
    ['wsUrl ws:/x',                  { apiName => 'v', wsUrl => 'ws:/x' },            'wsUrl'],
    ['wsUrl without host',           { apiName => 'v', wsUrl => 'ws:///path' },       'wsUrl'],
    ['wsUrl port 99999',             { apiName => 'v', wsUrl => 'ws://h:99999/p' },   'wsUrl'],
    ['wsUrl port not a number',      { apiName => 'v', wsUrl => 'ws://h:x/p' },       'wsUrl'],
    ['wsUrl with a space',           { apiName => 'v', wsUrl => 'ws://h h/p' },       'wsUrl'],
    ['wsUrl a number',               { apiName => 'v', wsUrl => 5 },                  'wsUrl'],
    ['teams not an array',           { apiName => 'v', teams => 'a' },                'teams'],
    ['parameters not an array',      { apiName => 'v', parameters => {} },            'parameters'],
    ['parameters[1].dataType',       { apiName => 'v', parameters => [{ name => 'a' }, { name => 'b', dataType => 'float' }] },
                                     'parameters[1].dataType'],
    ['parameters[0].in body',        { apiName => 'v', parameters => [{ name => 'a', in => 'body' }] },
                                     'parameters[0].in'],
    ['parameters[0].in path',        { apiName => 'v', parameters => [{ name => 'a', in => 'path' }] },
                                     'parameters[0].in'],
    ['parameters[0].name missing',   { apiName => 'v', parameters => [{ in => 'query' }] },
                                     'parameters[0].name'],
    ['parameters[0].name empty',     { apiName => 'v', parameters => [{ name => '' }] },
                                     'parameters[0].name'],
    ['parameters[0].required string', { apiName => 'v', parameters => [{ name => 'a', required => 'yes' }] },
                                     'parameters[0].required'],
    ['parameters[0].array number',   { apiName => 'v', parameters => [{ name => 'a', array => 1 }] },
                                     'parameters[0].array'],
    ['parameters[0] unknown member', { apiName => 'v', parameters => [{ name => 'a', type => 'string' }] },
                                     qr/^parameters\[0\]/],
    ['parameters[0] not an object',  { apiName => 'v', parameters => ['a'] },        qr/^parameters\[0\]/],
    ['integer value "x"',            { apiName => 'v', parameters => [{ name => 'a', dataType => 'integer', values => ['1', 'x'] }] },
                                     qr/^parameters\[0\]\.values/],
    ['integer value "1.5"',          { apiName => 'v', parameters => [{ name => 'a', dataType => 'Integer', values => ['1.5'] }] },
                                     qr/^parameters\[0\]\.values/],
    ['date value 2026-02-30',        { apiName => 'v', parameters => [{ name => 'a', dataType => 'date', values => ['2026-02-30'] }] },
                                     qr/^parameters\[0\]\.values/],
    ['date-time value without zone', { apiName => 'v', parameters => [{ name => 'a', dataType => 'date-time', values => ['2026-11-28T10:15:00'] }] },
                                     qr/^parameters\[0\]\.values/],
    ['boolean value "yes"',          { apiName => 'v', parameters => [{ name => 'a', dataType => 'boolean', values => ['yes'] }] },
                                     qr/^parameters\[0\]\.values/],
    ['double value "nan"',           { apiName => 'v', parameters => [{ name => 'a', dataType => 'double', values => ['nan'] }] },
                                     qr/^parameters\[0\]\.values/],
    ['double value 1e309',           { apiName => 'v', parameters => [{ name => 'a', dataType => 'double', values => ['1e309'] }] },
                                     qr/^parameters\[0\]\.values/],
    ['values not an array',          { apiName => 'v', parameters => [{ name => 'a', values => 'x' }] },
                                     qr/^parameters\[0\]\.values/],
    ['duplicate query parameter',    { apiName => 'v', parameters => [{ name => 'a' }, { name => 'a', in => 'Query-string' }] },
                                     qr/^parameters\[1\]/],
    ['duplicate header, other case', { apiName => 'v', parameters => [{ name => 'X-A', in => 'header' }, { name => 'x-a', in => 'Header' }] },
                                     qr/^parameters\[1\]/],
    ['messages not an array',        { apiName => 'v', messages => {} },              'messages'],
    ['messages[0].origin browser',   { apiName => 'v', messages => [{ origin => 'browser', type => 'text' }] },
                                     'messages[0].origin'],
    ['messages[1].type json',        { apiName => 'v', messages => [{ origin => 'client', type => 'text' }, { origin => 'server', type => 'json' }] },
                                     'messages[1].type'],
    ['messages[0].origin missing',   { apiName => 'v', messages => [{ type => 'text' }] },
                                     'messages[0].origin'],
    ['messages[0] unknown member',   { apiName => 'v', messages => [{ origin => 'client', type => 'text', payload => 'x' }] },
                                     qr/^messages\[0\]/],
    ['a policy (SPEC 5)',            { apiName => 'v', policies => { rateLimit => { perSecond => 5 } } }, qr/^policies/],
    ['a global policy',              { apiName => 'v', policies => { global => ['cors'] } }, qr/^policies/],
    ['policies not an object',       { apiName => 'v', policies => [] },              'policies'],
    ['unknown member (typo)',        { apiName => 'v', apiname => 'x' },              'apiname'],
    ['unknown member wsURL',         { apiName => 'v', wsURL => 'ws://h/p' },         'wsURL'],
    ['unknown member endpoint',      sample_api(apiName => 'v', endpoint => '/x'),    'endpoint'],
    ['isActive true on create',      { apiName => 'v', isActive => true },            'isActive'],
);

$before = redis_dump($redis);
for my $case (@invalid) {
    my ($name, $def, $field) = @$case;
    $r = $A->post('apis', json => $def);
    error_is($r, 400, $field, "400: $name");
}
for my $case (['a JSON array', '[]'], ['a JSON string', '"x"'], ['a JSON number', '5'],
              ['null', 'null']) {
    $r = $A->post('apis', json => $case->[1]);
    error_is($r, 400, '*', "400: the body is $case->[0]");
}
is_deeply(redis_dump($redis), $before, 'no invalid definition changed Redis');

# SPEC 3.1: type is "websocket"; any other value is a 400 (no alias is listed for it)
$r = $A->post('apis', json => { apiName => 'ws-case', type => 'WebSocket' });
error_is($r, 400, 'type', '400: type "WebSocket" (SPEC 3.1 literal)');

# read-only members are accepted and ignored on create
$r = $A->post('apis', json => sample_api(apiName => 'ro', id => 'not-mine', revision => 99,
                                         createdAt => '2000-01-01T00:00:00Z',
                                         updatedAt => '2000-01-01T00:00:00Z',
                                         gatewayEndpoints => ['/elsewhere'], isActive => false));
is($r->{status}, 201, 'read-only members accepted on create');
like($r->{json}{id} // '', $UUID, 'id generated, the given one ignored');
isnt($r->{json}{id}, 'not-mine', 'not the given id');
is($r->{json}{revision}, 1, 'revision 1');
isnt($r->{json}{createdAt}, '2000-01-01T00:00:00Z', 'createdAt set by the server');
is_deeply($r->{json}{gatewayEndpoints}, [], 'gatewayEndpoints computed');

# uniqueness of (apiName, apiVersion)
$before = redis_dump($redis);
$r = $A->post('apis', json => sample_api());
error_is($r, 409, '*', 'same apiName and apiVersion: 409');
is_deeply(redis_dump($redis), $before, '409 changed nothing');
$r = $A->post('apis', json => sample_api(apiVersion => '1.1'));
is($r->{status}, 201, 'same apiName, other version: 201');
my $v11 = $r->{json}{id};
$r = $A->post('apis', json => sample_api(apiName => 'Ticker'));
is($r->{status}, 201, 'apiName in another case is another name (SPEC silent)');

###############################################################################
# replace

$r = $A->put("apis/$id", json => { apiName => 'ticker', apiDescription => 'Delayed prices',
                                    wsUrl => 'wss://prices.internal/stream2' });
is($r->{status}, 200, 'PUT apis/{id}: 200');
is($r->{headers}{etag}, '"2"', 'ETag "2"');
is($r->{json}{id}, $id, 'same id');
is($r->{json}{revision}, 2, 'revision 2');
is($r->{json}{apiDescription}, 'Delayed prices', 'description replaced');
is($r->{json}{wsUrl}, 'wss://prices.internal/stream2', 'wsUrl replaced');
is_deeply([$r->{json}{parameters}, $r->{json}{messages}], [[], []],
          'full replacement: members left out are reset');
is($r->{json}{apiVersion}, '1.0', 'apiVersion default');
is($r->{json}{createdAt}, $api->{createdAt}, 'createdAt kept');
like($r->{json}{updatedAt} // '', $TIME, 'updatedAt RFC 3339');
ok(($r->{json}{updatedAt} // '') ge $api->{updatedAt}, 'updatedAt not earlier');
my $put = $r->{json};
json_is($A->get("apis/$id")->{json}, $put, 'GET answers what PUT answered');
is($A->get("apis/$id")->{headers}{etag}, '"2"', 'GET ETag "2"');

# what GET answers can be sent back
my $got = $A->get("apis/$id")->{json};
$got->{apiDescription} = 'round trip';
$r = $A->put("apis/$id", json => $got);
is($r->{status}, 200, 'the GET answer, sent back with PUT: 200');
is($r->{json}{revision}, 3, 'revision 3');
is($r->{json}{apiDescription}, 'round trip', 'changed member applied');
$got = $r->{json};

# read-only members that must agree
$before = redis_dump($redis);
error_is($A->put("apis/$id", json => { %$got, id => $v11 }), 400, 'id',
         'PUT with another id: 400 on id');
error_is($A->put("apis/$id", json => { %$got, isActive => true }), 400, 'isActive',
         'PUT with isActive true on an inactive API: 400 on isActive');
is($A->put("apis/$id", json => { %$got, revision => 42, createdAt => '2000-01-01T00:00:00Z',
                                  gatewayEndpoints => ['/x'] })->{json}{revision}, 4,
   'revision, createdAt, gatewayEndpoints ignored');
$before = redis_dump($redis);

# If-Match
$r = $A->put("apis/$id", json => { apiName => 'ticker' }, headers => { 'If-Match' => '"1"' });
error_is($r, 412, undef, 'If-Match with a stale ETag: 412');
is_deeply(redis_dump($redis), $before, '412 changed nothing');
$r = $A->put("apis/$id", json => { apiName => 'ticker' }, headers => { 'If-Match' => '"9"' });
error_is($r, 412, undef, 'If-Match with a future ETag: 412');
$r = $A->put("apis/$id", json => { apiName => 'ticker', apiDescription => 'matched' },
             headers => { 'If-Match' => '"4"' });
is($r->{status}, 200, 'If-Match with the current ETag: 200');
is($r->{headers}{etag}, '"5"', 'new ETag "5"');
$r = $A->put("apis/$id", json => { apiName => 'ticker', apiDescription => 'any' },
             headers => { 'If-Match' => '*' });
is($r->{status}, 200, 'If-Match: * : 200');
$r = $A->put("apis/$id", json => { apiName => 'ticker', apiDescription => 'list' },
             headers => { 'If-Match' => '"1", "6"' });
is($r->{status}, 200, 'If-Match with a list that holds the ETag: 200');
is($r->{json}{revision}, 7, 'revision 7');

# validation on PUT
$before = redis_dump($redis);
error_is($A->put("apis/$id", json => { apiName => 'ticker', parameters => [{ name => 'a' }, { name => 'b', dataType => 'float' }] }),
         400, 'parameters[1].dataType', 'PUT: invalid definition, 400 with the field');
error_is($A->put("apis/$id", json => { apiName => 'ticker', bogus => 1 }), 400, 'bogus',
         'PUT: unknown member, 400');
error_is($A->put("apis/$id", json => { apiDescription => 'no name' }), 400, 'apiName',
         'PUT: apiName missing, 400');
error_is($A->put("apis/$id", body => '', headers => { 'Content-Type' => 'application/json' }), 400, undef,
         'PUT: empty body, 400');
error_is($A->put("apis/$id", json => { apiName => 'ticker', apiVersion => '1.1' }), 409, '*',
         'PUT: renaming onto a taken name and version, 409');
is_deeply(redis_dump($redis), $before, 'failed PUTs changed nothing');

# unknown ids
my $nobody = '00000000-0000-4000-8000-000000000000';
error_is($A->get("apis/$nobody"), 404, undef, 'GET an unknown id: 404');
error_is($A->put("apis/$nobody", json => { apiName => 'x' }), 404, undef, 'PUT an unknown id: 404');
error_is($A->del("apis/$nobody"), 404, undef, 'DELETE an unknown id: 404');
error_is($A->get('apis/not-a-uuid'), 404, undef, 'GET a malformed id: 404');

# renaming frees the old name
$r = $A->put("apis/$id", json => sample_api(apiName => 'ticker2'));
is($r->{status}, 200, 'PUT renames the API');
is($r->{json}{apiName}, 'ticker2', 'new name');
$r = $A->post('apis', json => sample_api());
is($r->{status}, 201, 'the old name and version can be used again');
my $reuse = $r->{json}{id};
$r = $A->post('apis', json => sample_api(apiName => 'ticker2'));
error_is($r, 409, '*', 'the new name and version are taken');

###############################################################################
# delete

$r = $A->del("apis/$reuse", headers => { 'If-Match' => '"7"' });
error_is($r, 412, undef, 'DELETE with a stale If-Match: 412 (SPEC silent)');
$r = $A->del("apis/$reuse");
is($r->{status}, 204, 'DELETE apis/{id}: 204');
is($r->{body}, '', 'no body');
error_is($A->get("apis/$reuse"), 404, undef, 'GET after DELETE: 404');
error_is($A->del("apis/$reuse"), 404, undef, 'DELETE again: 404');
ok(!(grep { $_->{id} eq $reuse } @{ $A->get('apis')->{json}{apis} || [] }), 'gone from the list');
$r = $A->post('apis', json => sample_api());
is($r->{status}, 201, 'its name and version are free again');

###############################################################################
# the list: every API, summaries

$r = $A->get('apis');
my @list = @{ $r->{json}{apis} || [] };
my $count = () = $redis->cmd('SMEMBERS', 'wsapi:apis');
is(scalar(@list), $count, "the list has every API ($count)");
ok(!(grep { !defined $_->{id} || !defined $_->{apiName} || !defined $_->{apiVersion}
            || !JSON::PP::is_bool($_->{isActive}) } @list),
   'every summary has id, apiName, apiVersion, isActive (a boolean)');

no_crash($nginx);

done_testing;
