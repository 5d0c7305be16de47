#!/usr/bin/perl

# AsyncAPI 3.0 (SPEC 8): GET /apis/{id}/asyncapi in JSON and YAML, checked
# by the reference parser @asyncapi/parser (t/lib/asyncapi_validate.js);
# the round trip export -> import -> export; POST /apis of hand-written
# documents (JSON and YAML) with each mapping; each error with its
# document path; media types and privileges.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use WsApi::Test;
use WsApi::Admin;

my $root = repo_root();
my $validator = "$root/t/lib/asyncapi_validate.js";

-d "$root/build/node/node_modules/\@asyncapi/parser"
    or BAIL_OUT('@asyncapi/parser is not installed: run "make node"');

my $redis = start_redis();
my $nginx = start_nginx(http => admin_http());
my $A = admin_client($nginx);
my $dir = tmpdir();

sub export {
    my ($id, %h) = @_;
    return $A->get("apis/$id/asyncapi", headers => \%h);
}

sub import_doc {
    my ($body, $type, %o) = @_;
    return $A->post('apis', body => $body,
                    headers => { 'Content-Type' => $type }, %o);
}

my $N = 0;

# every document given passes the parser without a diagnostic of severity
# error; warnings are shown
sub parser_ok {
    my ($text, $name) = @_;
    my $f = "$dir/doc-" . ++$N;
    open my $fh, '>:raw', $f or die "$f: $!";
    print $fh $text;
    close $fh;
    my $out = `node $validator $f 2>&1`;
    my $rc = $? >> 8;
    my $r = eval { json_decode((split /\n/, $out)[-1]) } // {};
    ok($rc == 0 && ref $r->{errors} eq 'ARRAY' && !@{ $r->{errors} },
       "$name: the AsyncAPI parser finds no error")
        or diag($out);
    diag("$name: parser warning: $_") for @{ $r->{warnings} || [] };
}

# the definitions of the suite's shapes

my %shapes = (
    ticker => sample_api(),
    bare   => { apiName => 'bare', apiVersion => '0.1' },
    types  => {
        apiName => 'types', apiVersion => '2.0',
        apiDescription => "every data type\nand a \"quoted\" line: true",
        wsUrl => 'wss://backend.internal/ws',
        parameters => [
            { name => 's', in => 'query', dataType => 'string',
              description => 'a string' },
            { name => 'i', in => 'query', dataType => 'integer', required => true,
              values => ['1', '-7', '9223372036854775807'] },
            { name => 'd', in => 'query', dataType => 'double', values => ['1.5', '2'] },
            { name => 'b', in => 'query', dataType => 'boolean', values => ['true'] },
            { name => 'day', in => 'query', dataType => 'date', array => true,
              values => ['2026-11-28'] },
            { name => 'at', in => 'query', dataType => 'date-time' },
            { name => 'tags', in => 'query', dataType => 'string', array => true,
              values => ['null', '1.0', 'yes', "caf\x{e9}", '- x', '#'] },
            { name => 'X-Trace', in => 'header', dataType => 'string', required => true },
            { name => 'X-Count', in => 'header', dataType => 'integer', array => true },
        ],
        messages => [
            { origin => 'client', type => 'text', samplePayload => '{"op":"sub","n":[1,2.5,true,null]}',
              description => 'subscribe' },
            { origin => 'client', type => 'text', samplePayload => 'ping' },
            { origin => 'client', type => 'binary', samplePayload => 'AAEC' },
            { origin => 'server', type => 'text', samplePayload => '"quoted"',
              description => "ticks: 1\n2" },
            { origin => 'server', type => 'binary' },
        ],
    },
    serveronly => {
        apiName => 'serveronly', messages => [ { origin => 'server', type => 'text' } ],
    },
    schema => {
        apiName => 'schema', wsUrl => 'ws://backend.internal/ws',
        messages => [
            { origin => 'client', type => 'text', samplePayload => '{"subscribe":"AAPL"}',
              schema => { type => 'object', required => ['subscribe'],
                          properties => { subscribe => { type => 'string',
                                                         pattern => '^[A-Z]+$' } } } },
            { origin => 'server', type => 'text',
              schema => { '$ref' => '#/definitions/tick',
                          definitions => { tick => { type => 'array', maxItems => 3 } } } },
        ],
    },
);

my %id;
for my $k (sort keys %shapes) {
    $id{$k} = $A->create($shapes{$k})->{id};
}

# export: JSON by default

my $r = export($id{ticker});
is($r->{status}, 200, 'GET apis/{id}/asyncapi: 200');
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON by default');
my $doc = $r->{json};
is($doc->{asyncapi}, '3.0.0', 'asyncapi 3.0.0');
is_deeply($doc->{info}, { title => 'ticker', version => '1.0',
                          description => 'Live prices' }, 'info');
my $port = $nginx->port('admin');
is_deeply($doc->{servers}, { gateway => { host => "127.0.0.1:$port",
                                          protocol => 'ws',
                                          pathname => '/gateway/' } },
          'one server per gateway location, host from the request');
my $ch = $doc->{channels}{ticker};
is($ch->{address}, 'ticker/1.0', 'channel address {apiName}/{apiVersion}');
is_deeply($ch->{bindings}{ws}, {
    method => 'GET', bindingVersion => '0.1.0',
    query => { type => 'object', required => ['symbol'], properties => {
        symbol => { type => 'array', items => { type => 'string',
                                                enum => ['AAPL', 'MSFT'] } } } },
    headers => { type => 'object', properties => {
        'X-Client-Id' => { type => 'integer', format => 'int64' } } },
}, 'bindings.ws: query and headers as JSON Schema objects');
is_deeply($ch->{messages}{clientText1}, {
    name => 'clientText1', description => 'subscribe',
    contentType => 'application/json',
    examples => [ { payload => { subscribe => 'AAPL' } } ],
    'x-ws-origin' => 'client', 'x-ws-opcode' => 'text',
}, 'client text message: JSON sample as example');
is_deeply($ch->{messages}{serverBinary1}, {
    name => 'serverBinary1', description => 'price tick',
    contentType => 'application/octet-stream',
    'x-ws-origin' => 'server', 'x-ws-opcode' => 'binary',
}, 'server binary message');
is($doc->{operations}{receiveClientMessages}{action}, 'receive',
   'client messages: receive (the gateway receives them)');
is_deeply($doc->{operations}{receiveClientMessages}{messages},
          [ { '$ref' => '#/channels/ticker/messages/clientText1' } ], 'its messages');
is($doc->{operations}{sendServerMessages}{action}, 'send', 'server messages: send');
is_deeply($doc->{operations}{sendServerMessages}{channel},
          { '$ref' => '#/channels/ticker' }, 'operation channel');
is_deeply($doc->{'x-ws-api'}, { teams => [], wsUrl => 'ws://prices.internal:9001/stream',
                                policies => {} }, 'x-ws-api: teams, wsUrl, policies');

$r = export($id{types});
my $t = $r->{json};
my $q = $t->{channels}{types}{bindings}{ws}{query}{properties};
is_deeply($q->{i}, { type => 'integer', format => 'int64',
                     enum => [1, -7, 9223372036854775807] }, 'integer: int64, typed enum');
is_deeply($q->{d}, { type => 'number', enum => [1.5, 2] }, 'double: number');
is_deeply($q->{b}, { type => 'boolean', enum => [JSON::PP::true] }, 'boolean');
is_deeply($q->{day}, { type => 'array', items => { type => 'string', format => 'date',
                                                   enum => ['2026-11-28'] } },
          'array of date');
is_deeply($q->{at}, { type => 'string', format => 'date-time' }, 'date-time');
is_deeply($q->{s}, { type => 'string', description => 'a string' }, 'description kept');
is_deeply($t->{channels}{types}{bindings}{ws}{query}{required}, ['i'], 'required list');
my $m = $t->{channels}{types}{messages};
is($m->{clientText2}{contentType}, 'text/plain', 'text that is not JSON: text/plain');
is($m->{clientBinary1}{contentType}, 'application/octet-stream', 'binary');
is($m->{serverText1}{examples}[0]{payload}, 'quoted', 'a JSON string sample');
ok(!exists $t->{servers}{gateway}{tls}, 'plain listen: ws');

$r = export($id{bare});
ok(!exists $r->{json}{operations}, 'no messages: no operations');
ok(!exists $r->{json}{channels}{bare}{bindings}{ws}{query}, 'no parameters: no query');

# every export passes the parser, in JSON and in YAML

for my $k (sort keys %shapes) {
    my $j = export($id{$k});
    is($j->{status}, 200, "$k: exported");
    parser_ok($j->{body}, "$k (JSON)");

    my $y = export($id{$k}, Accept => 'application/yaml');
    is($y->{status}, 200, "$k: YAML exported");
    like($y->{headers}{'content-type'}, qr{^application/yaml}, "$k: application/yaml");
    parser_ok($y->{body}, "$k (YAML)");
}

for my $type ('application/x-yaml', 'text/yaml') {
    $r = export($id{ticker}, Accept => "$type, application/json;q=0.5");
    like($r->{headers}{'content-type'}, qr{^\Q$type\E}, "Accept: $type gives YAML");
}
$r = export($id{ticker}, Accept => 'application/json, application/yaml');
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON listed first: JSON');
$r = export($id{ticker}, Accept => 'application/yaml;q=0');
like($r->{headers}{'content-type'}, qr{^application/json}, 'YAML with q=0: JSON');

my $y = export($id{types}, Accept => 'application/yaml')->{body};
like($y, qr/^\s+- "null"$/m, 'YAML: "null" quoted');
like($y, qr/^\s+- "1\.0"$/m, 'YAML: "1.0" quoted');
like($y, qr/^\s+- "yes"$/m, 'YAML: "yes" quoted');
like($y, qr/^\s+- "- x"$/m, 'YAML: a leading indicator quoted');
like($y, qr/^\s+version: "2\.0"$/m, 'YAML: the version quoted');
like($y, qr/description: "every data type\\nand a \\"quoted\\" line: true"/,
     'YAML: a multi-line string double-quoted with escapes');

# round trip: export -> import -> export, the same apart from ids and dates

for my $k (sort keys %shapes) {
    for my $form ('json', 'yaml') {
        my $json = export($id{$k})->{json};
        my $before = export($id{$k}, $form eq 'yaml' ? (Accept => 'application/yaml') : ());
        is($A->del("apis/$id{$k}")->{status}, 204, "$k ($form): original deleted");
        $r = import_doc($before->{body}, "application/vnd.aai.asyncapi+$form");
        is($r->{status}, 201, "$k ($form): imported") or diag($r->{body});
        $id{$k} = $r->{json}{id};
        ok($r->{json}{isActive} == 0, "$k ($form): created inactive");
        is_deeply(export($id{$k})->{json}, $json,
                  "$k ($form): the round trip gives the same document");
    }
}

# import of hand-written documents

my $hand = <<'EOF_YAML';
asyncapi: 3.0.0
info:
  title: quotes
  version: '3.1'
  description: Hand written
channels:
  live:
    address: /quotes
    messages:
      sub:
        $ref: '#/components/messages/Subscribe'
      tick:
        contentType: application/json
        payload: {type: object}
        examples:
          - payload: {price: 1.5}
      raw:
        contentType: application/octet-stream
        x-ws-origin: server
    bindings:
      ws:
        method: GET
        query:
          type: object
          required: [symbol]
          properties:
            symbol:
              type: string
              description: the symbol
              enum: [AAPL, MSFT]
            depth:
              type: integer
            ratio:
              type: number
            live:
              type: boolean
            from:
              type: string
              format: date
            ids:
              type: array
              items: {type: integer, enum: [1, 2]}
        headers:
          type: object
          properties:
            X-Key: {type: string}
operations:
  subscribe:
    action: receive
    channel: {$ref: '#/channels/live'}
    messages: [{$ref: '#/channels/live/messages/sub'}]
  ticks:
    action: send
    channel: {$ref: '#/channels/live'}
    messages: [{$ref: '#/channels/live/messages/tick'}]
components:
  messages:
    Subscribe:
      description: subscribe to a symbol
      examples:
        - payload: "sub AAPL"
EOF_YAML

parser_ok($hand, 'the hand-written document');
$r = import_doc($hand, 'application/vnd.aai.asyncapi+yaml');
is($r->{status}, 201, 'hand-written YAML imported') or diag($r->{body});
my $d = $r->{json};
is_deeply([ map { $_->{schema} } grep { exists $_->{schema} } @{ $d->{messages} || [] } ],
          [ { type => 'object' } ], 'a message payload -> its schema');
is($d->{apiName}, 'quotes', 'title -> apiName');
is($d->{apiVersion}, '3.1', 'version -> apiVersion');
is($d->{apiDescription}, 'Hand written', 'description -> apiDescription');
is($d->{wsUrl}, undef, 'no x-ws-api: no wsUrl (completed later)');
my %p = map { $_->{name} => $_ } @{ $d->{parameters} };
is_deeply([ map { [$_->{name}, $_->{in}, $_->{dataType}] } @{ $d->{parameters} } ],
          [ [symbol => query => 'string'], [depth => query => 'integer'],
            [ratio => query => 'double'], [live => query => 'boolean'],
            [from => query => 'date'], [ids => query => 'integer'],
            ['X-Key' => header => 'string'] ], 'parameters with their data types');
ok($p{symbol}{required} && !$p{depth}{required}, 'required');
is_deeply($p{symbol}{values}, ['AAPL', 'MSFT'], 'enum -> values');
is($p{symbol}{description}, 'the symbol', 'description');
ok($p{ids}{array}, 'array');
is_deeply($p{ids}{values}, ['1', '2'], 'items.enum -> values');
is_deeply([ map { [$_->{origin}, $_->{type}, $_->{samplePayload}] } @{ $d->{messages} } ],
          [ [client => text => 'sub AAPL'], [server => text => '{"price":1.5}'],
            [server => binary => ''] ], 'messages: origins from operations or x-ws-origin, types, samples');
is($d->{messages}[0]{description}, 'subscribe to a symbol', 'a $ref message');

my $json_doc = json_encode({
    asyncapi => '3.0.0',
    info => { title => 'jsonimp', version => '1' },
    channels => { c => { messages => { m => { 'x-ws-opcode' => 'binary' } } } },
    operations => { o => { action => 'send', channel => { '$ref' => '#/channels/c' } } },
    'x-ws-api' => { wsUrl => 'ws://b.internal:1/x', policies => {} },
});
$r = import_doc($json_doc, 'application/vnd.aai.asyncapi+json');
is($r->{status}, 201, 'hand-written JSON imported') or diag($r->{body});
is($r->{json}{wsUrl}, 'ws://b.internal:1/x', 'x-ws-api.wsUrl -> wsUrl');
is_deeply([ map { "$_->{origin} $_->{type}" } @{ $r->{json}{messages} } ],
          ['server binary'], 'an operation without messages takes the channel\'s');

# errors: 400 with the document path

sub doc_with {
    my (%o) = @_;
    my $d = {
        asyncapi => '3.0.0', info => { title => 'errs', version => '1.0' },
        channels => { c => { bindings => { ws => { query => { type => 'object',
            properties => { symbol => { type => 'string' } } } } } } },
    };
    $o{$_}->($d) for sort keys %o;
    return json_encode($d);
}

my @errors = (
    [ 'not AsyncAPI 3', doc_with(v => sub { $_[0]{asyncapi} = '2.6.0' }), 'asyncapi' ],
    [ 'no title', doc_with(v => sub { delete $_[0]{info}{title} }), 'info.title' ],
    [ 'a bad title', doc_with(v => sub { $_[0]{info}{title} = 'Ticker API' }), 'info.title' ],
    [ 'version a number', doc_with(v => sub { $_[0]{info}{version} = 1 }), 'info.version' ],
    [ 'two channels', doc_with(v => sub { $_[0]{channels}{d} = {} }), 'channels' ],
    [ 'an unmapped data type', doc_with(v => sub {
        $_[0]{channels}{c}{bindings}{ws}{query}{properties}{symbol}{type} = 'object' }),
      'channels.c.bindings.ws.query.properties.symbol.type' ],
    [ 'an unmapped keyword', doc_with(v => sub {
        $_[0]{channels}{c}{bindings}{ws}{query}{properties}{symbol}{pattern} = '^A' }),
      'channels.c.bindings.ws.query.properties.symbol.pattern' ],
    [ 'an unknown format', doc_with(v => sub {
        $_[0]{channels}{c}{bindings}{ws}{query}{properties}{symbol}{format} = 'email' }),
      'channels.c.bindings.ws.query.properties.symbol.format' ],
    [ 'an enum value of the wrong type (def.c)', doc_with(v => sub {
        $_[0]{channels}{c}{bindings}{ws}{query}{properties}{symbol} =
            { type => 'integer', enum => [1, 'x'] } }),
      'channels.c.bindings.ws.query.properties.symbol.enum[1]' ],
    [ 'required names nothing', doc_with(v => sub {
        $_[0]{channels}{c}{bindings}{ws}{query}{required} = ['nope'] }),
      'channels.c.bindings.ws.query.required[0]' ],
    [ 'method POST', doc_with(v => sub { $_[0]{channels}{c}{bindings}{ws}{method} = 'POST' }),
      'channels.c.bindings.ws.method' ],
    [ 'a message without origin', doc_with(v => sub {
        $_[0]{channels}{c}{messages} = { m => {} } }), 'channels.c.messages.m' ],
    [ 'a bad opcode', doc_with(v => sub {
        $_[0]{channels}{c}{messages} = { m => { 'x-ws-origin' => 'client',
                                                'x-ws-opcode' => 'ping' } } }),
      'channels.c.messages.m.x-ws-opcode' ],
    [ 'a bad action', doc_with(v => sub {
        $_[0]{channels}{c}{messages} = { m => {} };
        $_[0]{operations} = { o => { action => 'publish',
                                     channel => { '$ref' => '#/channels/c' } } } }),
      'operations.o.action' ],
    [ 'a dangling $ref', doc_with(v => sub {
        $_[0]{channels}{c}{messages} = { m => { '$ref' => '#/components/messages/x' } } }),
      'components' ],
    [ 'a remote $ref', doc_with(v => sub {
        $_[0]{channels}{c}{messages} = { m => { '$ref' => 'http://x/y.json' } } }),
      'channels.c.messages.m' ],
    [ 'an unknown x-ws-api member', doc_with(v => sub { $_[0]{'x-ws-api'} = { polcies => {} } }),
      'x-ws-api.polcies' ],
    [ 'a bad policy (def.c)', doc_with(v => sub {
        $_[0]{'x-ws-api'} = { policies => { nope => 1 } } }), qr/^x-ws-api\.policies/ ],
    [ 'a bad wsUrl (def.c)', doc_with(v => sub { $_[0]{'x-ws-api'} = { wsUrl => 'http://x' } }),
      'x-ws-api.wsUrl' ],
    [ 'a bad sample (def.c)', doc_with(v => sub {
        $_[0]{channels}{c}{messages} = { m => { 'x-ws-origin' => 'client',
            examples => [ { payload => 'x' x 70000 } ] } } }),
      'channels.c.messages.m.examples[0].payload' ],
);

for my $e (@errors) {
    my ($name, $body, $field) = @$e;
    $r = import_doc($body, 'application/vnd.aai.asyncapi+json');
    error_is($r, 400, $field, "import error: $name");
}

error_is(import_doc("asyncapi: 3.0.0\ninfo: [", 'application/vnd.aai.asyncapi+yaml'),
         400, undef, 'malformed YAML: 400');
error_is(import_doc("a: &x [1]\nb: *x\n", 'application/vnd.aai.asyncapi+yaml'),
         400, undef, 'YAML aliases refused');
error_is(import_doc("a: 1\n---\nb: 2\n", 'application/vnd.aai.asyncapi+yaml'),
         400, undef, 'several YAML documents refused');
error_is(import_doc('{"asyncapi":', 'application/vnd.aai.asyncapi+json'),
         400, undef, 'malformed JSON: 400');
error_is(import_doc($json_doc, 'application/yaml'), 415, undef,
         'a YAML type other than the AsyncAPI one: 415');
error_is($A->put("apis/$id{ticker}", body => $json_doc,
                 headers => { 'Content-Type' => 'application/vnd.aai.asyncapi+json' }),
         415, undef, 'an AsyncAPI document elsewhere than POST apis: 415');
$r = import_doc($json_doc, 'application/vnd.aai.asyncapi+json');
error_is($r, 409, '*', 'the same name and version twice: 409');

# privileges and lookups

error_is(import_doc($json_doc, 'application/vnd.aai.asyncapi+json', user => 'nobody'),
         403, undef, 'import without manage_apis: 403');
error_is(import_doc($json_doc, 'application/vnd.aai.asyncapi+json', user => undef),
         401, undef, 'import without identity: 401');
is($A->get("apis/$id{ticker}/asyncapi", user => 'nobody')->{status}, 200,
   'export: any identity may read, as GET apis/{id}');
error_is($A->get('apis/00000000-0000-4000-8000-000000000000/asyncapi'), 404, undef,
         'export of an unknown id: 404');
error_is($A->post("apis/$id{ticker}/asyncapi"), 405, undef, 'POST to the export: 405');

no_crash($nginx);

# a message's schema is its AsyncAPI payload
$r = export($id{schema});
my %payload = map { $_->{name} => $_->{payload} }
              values %{ $r->{json}{channels}{schema}{messages} || {} };
# a local $ref is rewritten to point into the document (and back on import)
my ($c, $s) = map { $_->{schema} } @{ $shapes{schema}{messages} };
is_deeply(\%payload,
          { clientText1 => $c,
            serverText1 => { %$s, '$ref' =>
                '#/channels/schema/messages/serverText1/payload/definitions/tick' } },
          'each message schema exported as its payload, local $ref into the document');
my $got = $A->get("apis/$id{schema}")->{json};
is_deeply([ map { $_->{schema} } @{ $got->{messages} || [] } ], [ $c, $s ],
          'after the round trip the definition holds its schemas as they were written');

done_testing;
