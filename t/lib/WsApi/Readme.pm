package WsApi::Readme;

# The README's session, against the http block of conf/nginx.conf (the
# configuration "make run" starts), its ports and paths moved to the
# test's own: create an API with basic information only, activation
# refused until wsUrl is set, complete it, activate it, connect through
# the gateway, be refused with a precise reason, be closed with 1003.
# Run by t/05-readme-session.t against the build, and by t/91-deb.t
# against the module the Debian package installed.
#
#   WsApi::Readme::session(%nginx)   %nginx: more options of start_nginx

use strict;
use warnings;

use Test::More;
use WsApi::Test;

sub session {
    my (%nginx) = @_;

    my $http = sample_http();
    ok($http, 'conf/nginx.conf has an http block');

    like($http, qr/location \/gateway\/ \{\s+ws_api_gateway;/,
         'the sample has the canonical gateway location');

    my $redis = start_redis();
    my $backend = start_backend();
    my $nginx = start_nginx(http => $http, access_log => 0, temp_paths => 0, %nginx);

    system('sh', '-c', 'printf "admin:%s\n" "$(openssl passwd -apr1 admin)" > '
           . $nginx->dir . '/htpasswd') == 0 or die 'htpasswd';

    my $A = 'http://127.0.0.1:' . $nginx->port('admin') . '/rest/apigateway';
    my %auth = (user => 'admin', password => 'admin');

    my $r = http_request(POST => "$A/apis", json => { apiName => 'ticker' });
    is($r->{status}, 401, 'no credentials: 401');
    is($r->{json} && $r->{json}{error}{status}, 401, '... in JSON');

    $r = http_request(POST => "$A/apis", %auth, json => {
        apiName => 'ticker', apiVersion => '1.0', apiDescription => 'Live prices' });
    is($r->{status}, 201, 'created with its basic information only');
    is($r->{json}{wsUrl}, undef, 'no wsUrl yet');

    my $id = $r->{json}{id};

    $r = http_request(PUT => "$A/apis/$id/activate", %auth);
    is($r->{status}, 409, 'activation refused');
    is($r->{json}{error}{field}, 'wsUrl', '... for the missing wsUrl');

    $r = http_request(PUT => "$A/apis/$id", %auth, json => {
        apiName => 'ticker', apiVersion => '1.0', apiDescription => 'Live prices',
        wsUrl => $backend->url('/stream'),
        parameters => [
            { name => 'symbol', in => 'Query-string', dataType => 'String',
              required => JSON::PP::true, array => JSON::PP::true,
              values => ['AAPL', 'MSFT'] },
            { name => 'X-Client-Id', in => 'Header', dataType => 'Integer' },
        ],
        messages => [
            { origin => 'Client', type => 'Text',
              samplePayload => '{"subscribe":"AAPL"}', description => 'subscribe' },
            { origin => 'Server', type => 'Text', description => 'price tick' },
        ] });
    is($r->{status}, 200, 'technical information completed');
    is($r->{json}{parameters}[0]{in}, 'query', 'labels in canonical form');

    $r = http_request(PUT => "$A/apis/$id/activate", %auth);
    is($r->{status}, 200, 'activated');
    is_deeply($r->{json}{gatewayEndpoints}, ['/gateway/ticker/1.0'],
              'gateway endpoint');

    my $path = '/gateway/ticker/1.0?symbol=AAPL,MSFT';

    my $took = poll_until(timeout_scale(10), sub {
        ws_connect(port => $nginx->port('gw'), path => $path)->status == 101;
    });
    ok($took, "served by the gateway after ${\($took // '?')} s");

    my $ws = ws_connect(port => $nginx->port('gw'), path => $path, lib => 1);
    is($ws->status, 101, 'connected with Protocol::WebSocket');
    $ws->send_text('{"subscribe":"AAPL"}');
    is($ws->read_message(10)->{payload}, '{"subscribe":"AAPL"}', 'echoed');

    my $bad = ws_connect(port => $nginx->port('gw'),
                         path => '/gateway/ticker/1.0?symbol=IBM');
    is($bad->status, 400, 'symbol=IBM: 400');
    is_deeply([ @{ $bad->json->{error} }{qw(parameter in reason)} ],
              ['symbol', 'query', 'value_not_allowed'], '... with the reason');

    $ws->send_binary("\x01\x02");
    my $f = $ws->read_frame(10);
    is($f && unpack('n', $f->{payload}), 1003, 'a binary message: 1003');
    is(substr($f->{payload}, 2),
       'client binary messages are not declared for this API', '... reason');

    # the journey of "identifyAndAccess": an application registered to
    # the ticker API connects with its key; no key, a wrong one and the
    # key of an application not registered are refused

    my $def = http_request(GET => "$A/apis/$id", %auth)->{json};
    delete @$def{qw(id isActive gatewayEndpoints revision createdAt updatedAt)};
    $def->{policies} = { identifyAndAccess => { methods => ['apiKey'] } };
    $r = http_request(PUT => "$A/apis/$id", %auth, json => $def);
    is($r->{status}, 200, 'journey: the ticker API gets identifyAndAccess');

    $r = http_request(POST => "$A/applications", %auth,
                      json => { name => 'ticker-web', apiIds => [$id] });
    is($r->{status}, 201, 'journey: application created');
    my $key = $r->{json}{apiKey} // '';
    my $app = $r->{json}{id};
    like($key, qr/^[A-Za-z0-9_-]{43}$/, 'journey: with its key, shown once');

    $r = http_request(POST => "$A/applications", %auth, json => { name => 'other' });
    my $other = $r->{json}{apiKey} // '';

    my $keyed = "$path&apiKey=$key";
    $took = poll_until(timeout_scale(10), sub {
        ws_connect(port => $nginx->port('gw'), path => $keyed)->status == 101;
    });
    ok($took, 'journey: connected with the key in the query');

    $ws = ws_connect(port => $nginx->port('gw'), path => '/gateway/ticker/1.0/j?symbol=AAPL',
                     headers => { 'x-Gateway-APIKey' => $key });
    is($ws->status, 101, 'journey: connected with the key in x-Gateway-APIKey');
    my $hs = ($backend->handshakes(path => '/stream/j'))[0] // {};
    is($hs->{headers}{'x-application'}, $app, 'journey: the backend gets X-Application');
    ok(!exists $hs->{headers}{'x-gateway-apikey'}, 'journey: but never the key');

    my $ws401 = ws_connect(port => $nginx->port('gw'), path => $path);
    is($ws401->status, 401, 'journey: no key: 401');
    like($ws401->header('www-authenticate') // '', qr/^APIKey realm="ws-api"/,
         'journey: with WWW-Authenticate');
    is(ws_connect(port => $nginx->port('gw'), path => $path,
                  headers => { 'x-Gateway-APIKey' => 'nope' })->status, 401,
       'journey: a wrong key: 401');
    poll_until(timeout_scale(10), sub {
        $ws = ws_connect(port => $nginx->port('gw'), path => $path,
                         headers => { 'x-Gateway-APIKey' => $other });
        $ws->status == 403;
    });
    is($ws->status, 403, 'journey: an application not registered: 403');
    is($ws->json && $ws->json->{error}{reason}, 'application_not_registered',
       'journey: reason application_not_registered');

    $r = http_request(GET => "$A/health");
    is($r->{status}, 200, 'health');
}

1;
