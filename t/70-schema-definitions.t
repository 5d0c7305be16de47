#!/usr/bin/perl

# SPEC 3.1, 4.3: messages[].schema through the admin API.  A schema is
# kept as given and read back; an unsupported keyword, a bad schema, a
# schema on a binary message, a samplePayload that is not JSON or does
# not match its schema are each a 400 whose field and message say what
# and where, and change nothing in Redis.  An API with schemas activates
# and its definition reaches the gateway's zone (a handshake succeeds).

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

my $schema = {
    '$schema'   => 'http://json-schema.org/draft-07/schema#',
    type        => 'object',
    required    => ['subscribe'],
    properties  => {
        subscribe => { '$ref' => '#/definitions/symbol' },
    },
    additionalProperties => false,
    definitions => { symbol => { type => 'string', pattern => '^[A-Z]{1,5}$' } },
};

# accepted, kept as given, read back

my $r = $A->post('apis', json => minimal_api(apiName => 'validated',
    messages => [
        { origin => 'client', type => 'text',
          samplePayload => '{"subscribe":"AAPL"}', schema => $schema },
        { origin => 'client', type => 'text', schema => { type => 'array' } },
        { origin => 'server', type => 'text', schema => true },
    ]));

is($r->{status}, 201, 'a definition with three schemas is created');
my $id = $r->{json}{id};
is_deeply($r->{json}{messages}[0]{schema}, $schema, 'the schema is kept as given');
is_deeply($r->{json}{messages}[2]{schema}, true, 'a boolean schema is kept');

$r = $A->get("apis/$id");
is($r->{status}, 200, 'read back');
is_deeply($r->{json}{messages}[0]{schema}, $schema, 'the schema reads back');
ok(!exists $r->{json}{messages}[1]{samplePayload}
   || $r->{json}{messages}[1]{samplePayload} eq '',
   'no sample: nothing to check');

# refused, with the field and a message naming the keyword and pointer

my $before = redis_dump($redis);

my @bad = (
    [ 'an unsupported keyword',
      { origin => 'client', type => 'text',
        schema => { properties => { a => { unevaluatedProperties => false } } } },
      'messages[0].schema',
      qr/unsupported keyword "unevaluatedProperties" at "#\/properties\/a"/ ],
    [ 'a keyword of a later draft',
      { origin => 'client', type => 'text',
        schema => { '$schema' => 'http://json-schema.org/draft-04/schema#',
                    const => 1 } },
      'messages[0].schema', qr/unsupported keyword "const" at "#"/ ],
    [ 'a schema on a binary message',
      { origin => 'client', type => 'binary', schema => {} },
      'messages[0].schema', qr/text messages only/ ],
    [ 'a schema that is a string',
      { origin => 'server', type => 'text', schema => 'object' },
      'messages[0].schema', qr/must be a JSON Schema/ ],
    [ 'a bad regular expression',
      { origin => 'server', type => 'text', schema => { pattern => '(' } },
      'messages[0].schema', qr/"pattern" is not a valid regular expression/ ],
    [ 'a remote $ref',
      { origin => 'server', type => 'text',
        schema => { '$ref' => 'https://example.com/s.json' } },
      'messages[0].schema', qr/only local JSON pointers/ ],
    [ 'a samplePayload that does not match',
      { origin => 'client', type => 'text',
        samplePayload => '{"subscribe":"aapl"}', schema => $schema },
      'messages[0].samplePayload',
      qr/does not match its schema: payload fails pattern at "\/subscribe"/ ],
    [ 'a samplePayload that is not JSON',
      { origin => 'client', type => 'text',
        samplePayload => 'subscribe AAPL', schema => $schema },
      'messages[0].samplePayload', qr/is not JSON/ ],
);

for my $case (@bad) {
    my ($name, $msg, $field, $re) = @$case;
    $r = $A->post('apis', json => minimal_api(apiName => 'bad', messages => [$msg]));
    error_is($r, 400, $field, "400: $name");
    like($r->{json}{error}{message} // '', $re, "  message: $name");
}

$r = $A->put("apis/$id", json => minimal_api(apiName => 'validated',
    messages => [ { origin => 'client', type => 'text',
                    schema => { minimum => 'one' } } ]));
error_is($r, 400, 'messages[0].schema', '400 on PUT too');

is_deeply(redis_dump($redis), $before, 'no refused definition changed Redis');

# a stored definition with schemas is valid for the zone: activation and
# the gateway accept it

$r = $A->put("apis/$id", json => minimal_api(apiName => 'validated',
    wsUrl => 'ws://127.0.0.1:9/', messages => [
        { origin => 'client', type => 'text', schema => $schema } ]));
is($r->{status}, 200, 'replaced with a wsUrl');

$r = $A->put("apis/$id/activate");
is($r->{status}, 200, 'an API with a schema activates');
is_deeply($r->{json}{messages}[0]{schema}, $schema, 'its schema is unchanged');

done_testing();
