#!/usr/bin/perl

# SPEC 3.4 and 5, the identifyAndAccess policy at the handshake, with a
# real client: the policy checked at definition time (400 with its field);
# an API key in x-Gateway-APIKey or ?apiKey= (removed from the query the
# backend gets, the header not passed on); a JWT in Authorization: Bearer
# or ?access_token= (HS256, RS256, ES256 with keys made by openssl here),
# client_id else sub naming the application; 401 with WWW-Authenticate
# for no or bad credentials, 403 application_not_registered;
# allowAnonymous; $ws_api_application and $ws_api_application_id; a key
# revoked or an application deleted stops new handshakes on a second
# nginx sharing the Redis within one second, and closes its live
# connections there with 1008 (1001 to the backend); an application no
# longer registered for an API loses its connections to it; JWT edge cases (alg none, wrong alg for the key, tampered,
# expired, not yet valid, wrong audience, wrong issuer).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use Time::HiRes ();
use WsApi::Test;
use WsApi::Api;

my $t = timeout_scale(10);

my $gw = gateway(
    location => 'proxy_set_header X-Application $ws_api_application_id; '
                . 'proxy_set_header x-Gateway-APIKey "";',
    log_format => '$status api=$ws_api_name app=$ws_api_application '
                  . 'app_id=$ws_api_application_id args=$args');

sub admin { $gw->admin(@_) }

sub refused {
    my ($ws, $status, $reason, $what) = @_;
    is($ws->status, $status, "$what: $status");
    my $j = eval { json_decode($ws->body) } // {};
    is($j->{error}{status}, $status, "$what: JSON error status");
    is($j->{error}{reason}, $reason, "$what: reason $reason");
    ok(length($j->{error}{message} // ''), "$what: a message");
}

sub challenges {
    my ($ws) = @_;
    my $v = $ws->headers->{'www-authenticate'};
    return ref $v ? @$v : defined $v ? ($v) : ();
}

sub hs { [ $gw->backend->handshakes(path => "/stream$_[0]") ] }

my $dir = tmpdir();

###############################################################################
# keys for the JWTs, made by openssl

my $secret = 'an HMAC secret of at least thirty-two bytes!';

system("openssl genrsa -out $dir/rsa.pem 2048 2>/dev/null") == 0 or die 'openssl genrsa';
system("openssl pkey -in $dir/rsa.pem -pubout -out $dir/rsa.pub 2>/dev/null") == 0 or die;
system("openssl ecparam -name prime256v1 -genkey -noout -out $dir/ec.pem 2>/dev/null") == 0 or die;
system("openssl pkey -in $dir/ec.pem -pubout -out $dir/ec.pub 2>/dev/null") == 0 or die;

sub slurp { local (@ARGV, $/) = @_; <> }
my $rsa_pub = slurp("$dir/rsa.pub");
my $ec_pub = slurp("$dir/ec.pub");

sub openssl_sign {
    my ($key, $input) = @_;
    open(my $f, '>', "$dir/in") or die; print $f $input; close $f;
    system("openssl dgst -sha256 -sign $key -out $dir/sig $dir/in") == 0 or die 'openssl dgst';
    return slurp("$dir/sig");
}

# DER ECDSA-Sig-Value to JOSE's r || s
sub der_to_jose {
    my ($der) = @_;
    my @b = unpack('C*', $der);
    my $i = 2;
    my @parts;
    for (1 .. 2) {
        die 'not an INTEGER' unless $b[$i] == 2;
        my $len = $b[$i + 1];
        my $v = pack('C*', @b[$i + 2 .. $i + 1 + $len]);
        $v =~ s/^\x00+//;
        push @parts, ("\x00" x (32 - length $v)) . $v;
        $i += 2 + $len;
    }
    return join('', @parts);
}

sub jwt {
    my (%o) = @_;
    my $alg = $o{alg} // 'HS256';
    my $header = encode_base64url(json_encode({ alg => $alg, typ => 'JWT', %{ $o{header} // {} } }));
    my %claims = (iss => 'https://issuer.example', aud => 'ws-api', exp => time + 300,
                  %{ $o{claims} // {} });
    delete $claims{$_} for grep { !defined $claims{$_} } keys %claims;
    my $payload = encode_base64url(json_encode(\%claims));
    my $input = "$header.$payload";
    my $sig = '';
    my $sign = $o{sign} // $alg;
    if ($sign eq 'HS256') {
        $sig = hmac_sha256($input, $o{secret} // $secret);
    } elsif ($sign eq 'RS256') {
        $sig = openssl_sign("$dir/rsa.pem", $input);
    } elsif ($sign eq 'ES256') {
        $sig = der_to_jose(openssl_sign("$dir/ec.pem", $input));
    }
    return "$input." . encode_base64url($sig);
}

###############################################################################
# the policy at definition time

{
    my $base = { apiName => 'bad', wsUrl => $gw->backend->url('/stream') };
    my @bad = (
        [ { methods => [] }, 'policies.identifyAndAccess.methods', 'no method' ],
        [ { methods => [ 'basic' ] }, 'policies.identifyAndAccess.methods[0]', 'an unknown method' ],
        [ { methods => [ 'apiKey', 'apiKey' ] }, 'policies.identifyAndAccess.methods[1]', 'a method twice' ],
        [ { methods => [ 'apiKey' ], allowAnonymous => 'yes' },
          'policies.identifyAndAccess.allowAnonymous', 'allowAnonymous not a boolean' ],
        [ { methods => [ 'apiKey' ], color => 1 }, 'policies.identifyAndAccess.color', 'an unknown member' ],
        [ { methods => [ 'jwt' ] }, 'policies.identifyAndAccess.jwt', 'jwt without its keys' ],
        [ { methods => [ 'apiKey' ], jwt => { keys => [ $rsa_pub ] } },
          'policies.identifyAndAccess.jwt', 'jwt keys without the jwt method' ],
        [ { methods => [ 'jwt' ], jwt => { keys => [] } }, 'policies.identifyAndAccess.jwt.keys',
          'no jwt key' ],
        [ { methods => [ 'jwt' ], jwt => { keys => [ 'not a key' ] } },
          qr/^policies\.identifyAndAccess\.jwt\.keys\[0\]/, 'a key that is not one' ],
        [ { methods => [ 'jwt' ], jwt => { keys => [ { kty => 'oct', k => encode_base64url('short') } ] } },
          qr/^policies\.identifyAndAccess\.jwt\.keys\[0\]/, 'an HMAC secret too short' ],
        [ 'x', 'policies.identifyAndAccess', 'not an object' ],
    );
    for my $b (@bad) {
        my $r = admin(POST => 'apis', { %$base, policies => { identifyAndAccess => $b->[0] } });
        is($r->{status}, 400, "$b->[2]: 400");
        if (ref $b->[1]) {
            like($r->{json}{error}{field} // '', $b->[1], "$b->[2]: field");
        } else {
            is($r->{json}{error}{field}, $b->[1], "$b->[2]: field $b->[1]");
        }
    }
}

###############################################################################
# APIs and applications

my $keyed = $gw->define(apiName => 'keyed', policies => { identifyAndAccess => { methods => [ q(apiKey) ] } });
my $anon = $gw->define(apiName => 'anon',
                       policies => { identifyAndAccess => { methods => [ 'apiKey' ], allowAnonymous => JSON::PP::true } });
my $jwt_policy = { methods => [ 'jwt' ],
                   jwt => { keys => [ { kty => 'oct', k => encode_base64url($secret) }, $rsa_pub, $ec_pub ],
                            issuer => 'https://issuer.example', audience => 'ws-api' } };
my $jwtapi = $gw->define(apiName => 'tokens', policies => { identifyAndAccess => $jwt_policy });
my $both = $gw->define(apiName => 'both',
                       policies => { identifyAndAccess => { %$jwt_policy, methods => [ 'apiKey', 'jwt' ] } });
my $open = $gw->define(apiName => 'open');

my $r = admin(POST => 'applications', { name => 'ticker-web',
                                        apiIds => [ map { $_->{id} } $keyed, $anon, $jwtapi, $both ] });
is($r->{status}, 201, 'application A created');
my ($A, $keyA) = ($r->{json}{id}, $r->{json}{apiKey});

$r = admin(POST => 'applications', { name => 'other', apiIds => [ $open->{id} ] });
my ($B, $keyB) = ($r->{json}{id}, $r->{json}{apiKey});

# the zone follows Redis within a second
poll_until($t, sub {
    $gw->connect('/gateway/keyed/1.0/probe', headers => { 'x-Gateway-APIKey' => $keyB })->status == 403
}) or diag('the applications were not loaded in time');

###############################################################################
# API keys

{
    my $ws = $gw->connect('/gateway/keyed/1.0/none');
    refused($ws, 401, 'credentials_required', 'no credentials');
    is_deeply([ challenges($ws) ], [ 'APIKey realm="ws-api"' ], 'WWW-Authenticate: APIKey');

    $ws = $gw->connect('/gateway/keyed/1.0/header?a=1', headers => { 'x-Gateway-APIKey' => $keyA });
    is($ws->status, 101, 'the key in x-Gateway-APIKey: 101');
    $ws->send_text('hi');
    is(($ws->read_message($t) // {})->{payload}, 'hi', 'and relays');
    my $h = hs('/header')->[0] // {};
    is($h->{headers}{'x-application'}, $A, 'proxy_set_header X-Application $ws_api_application_id');
    ok(!exists $h->{headers}{'x-gateway-apikey'}, 'the backend never sees the key header');
    is($h->{query}, 'a=1', 'the query passes');

    $ws = $gw->connect("/gateway/keyed/1.0/query?a=1&apiKey=$keyA&b=2");
    is($ws->status, 101, 'the key in ?apiKey=: 101');
    $h = hs('/query')->[0] // {};
    is($h->{query}, 'a=1&b=2', 'apiKey is removed from the query the backend gets');
    unlike(json_encode($h), qr/\Q$keyA\E/, 'the backend saw no trace of the key');

    $ws = $gw->connect("/gateway/keyed/1.0/only?apiKey=$keyA");
    is($ws->status, 101, 'the key as the only parameter: 101');
    is(hs('/only')->[0]{query} // '', '', 'an empty query left');

    $ws = $gw->connect('/gateway/keyed/1.0/bad', headers => { 'x-Gateway-APIKey' => 'x' . $keyA });
    refused($ws, 401, 'invalid_credentials', 'an unknown key');
    ok(scalar challenges($ws), 'with WWW-Authenticate');

    $ws = $gw->connect('/gateway/keyed/1.0/other', headers => { 'x-Gateway-APIKey' => $keyB });
    refused($ws, 403, 'application_not_registered', 'a key of an application not registered');

    is(scalar @{ hs($_) }, 0, "the backend saw no refused handshake ($_)") for qw(/none /bad /other);

    $ws = $gw->connect('/gateway/open/1.0/x', headers => { 'x-Gateway-APIKey' => 'whatever' });
    is($ws->status, 101, 'an API without the policy ignores keys');

    ok(poll_until($t, sub { $gw->nginx->access_log =~ /^101 api=keyed app=ticker-web app_id=\Q$A\E args=a=1&b=2$/m }),
       'the access log has $ws_api_application, $ws_api_application_id, and $args without the key');
}

# allowAnonymous
{
    my $ws = $gw->connect('/gateway/anon/1.0/none');
    is($ws->status, 101, 'allowAnonymous: no credentials pass');
    is(hs('/none')->[0]{headers}{'x-application'} // '', '', 'as nobody');
    refused($gw->connect('/gateway/anon/1.0/bad?apiKey=nope'), 401, 'invalid_credentials',
            'allowAnonymous: a bad key is still refused');
    is($gw->connect("/gateway/anon/1.0/good?apiKey=$keyA")->status, 101, 'allowAnonymous: a good key');
}

###############################################################################
# JWTs

{
    my $ws = $gw->connect('/gateway/tokens/1.0/none');
    refused($ws, 401, 'credentials_required', 'no token');
    is_deeply([ challenges($ws) ], [ 'Bearer realm="ws-api"' ], 'WWW-Authenticate: Bearer');

    my %ok = (HS256 => jwt(claims => { sub => $A }),
              RS256 => jwt(alg => 'RS256', claims => { sub => $A }),
              ES256 => jwt(alg => 'ES256', claims => { client_id => $A }));
    for my $alg (sort keys %ok) {
        $ws = $gw->connect("/gateway/tokens/1.0/h-$alg",
                           headers => { Authorization => "Bearer $ok{$alg}" });
        is($ws->status, 101, "$alg in Authorization: Bearer: 101");
        is((hs("/h-$alg")->[0] // {})->{headers}{'x-application'}, $A, "$alg: the application");
    }

    $ws = $gw->connect("/gateway/tokens/1.0/q?x=1&access_token=$ok{HS256}");
    is($ws->status, 101, 'a token in ?access_token=: 101');
    is(hs('/q')->[0]{query}, 'x=1', 'access_token is removed from the query');

    $ws = $gw->connect('/gateway/tokens/1.0/cid', headers => {
        Authorization => 'Bearer ' . jwt(claims => { client_id => $A, sub => 'someone' }) });
    is($ws->status, 101, 'client_id comes before sub');

    my $now = time;
    my ($h64, $p64, $s64) = split /\./, $ok{HS256};
    my $tampered = $h64 . '.' . encode_base64url(json_encode({ iss => 'https://issuer.example', aud => 'ws-api',
                                                               exp => $now + 300, sub => $B })) . ".$s64";
    my $none = encode_base64url(json_encode({ alg => 'none', typ => 'JWT' })) . ".$p64.";
    my @bad = (
        [ $none, 'alg none' ],
        [ jwt(alg => 'HS256', secret => $rsa_pub, claims => { sub => $A }),
          'HS256 with the RSA public key as the secret (alg confusion)' ],
        [ jwt(alg => 'RS256', sign => 'HS256', claims => { sub => $A }), 'RS256 signed with HMAC' ],
        [ jwt(alg => 'ES256', sign => 'RS256', claims => { sub => $A }), 'ES256 signed with RSA' ],
        [ $tampered, 'a tampered payload' ],
        [ jwt(secret => 'another secret of thirty-two bytes or more', claims => { sub => $A }),
          'another secret' ],
        [ jwt(claims => { sub => $A, exp => $now - 120 }), 'expired beyond the leeway' ],
        [ jwt(claims => { sub => $A, exp => undef }), 'no exp' ],
        [ jwt(claims => { sub => $A, nbf => $now + 300 }), 'not yet valid' ],
        [ jwt(claims => { sub => $A, aud => 'another' }), 'a wrong audience' ],
        [ jwt(claims => { sub => $A, iss => 'https://evil.example' }), 'a wrong issuer' ],
        [ jwt(claims => { sub => '00000000-0000-4000-8000-000000000000' }), 'an unknown application' ],
        [ jwt(claims => {}), 'no sub nor client_id' ],
        [ 'not.a.token', 'garbage' ],
    );
    for my $b (@bad) {
        $ws = $gw->connect('/gateway/tokens/1.0/bad', headers => { Authorization => "Bearer $b->[0]" });
        refused($ws, 401, 'invalid_credentials', $b->[1]);
        is_deeply([ challenges($ws) ], [ 'Bearer realm="ws-api", error="invalid_token"' ],
                  "$b->[1]: WWW-Authenticate says invalid_token");
    }
    is(scalar @{ hs('/bad') }, 0, 'the backend saw none of them');

    is($gw->connect('/gateway/tokens/1.0/leeway', headers => {
           Authorization => 'Bearer ' . jwt(claims => { sub => $A, exp => $now - 20 }) })->status,
       101, 'expired 20 s ago: within the 60 s leeway');
    is($gw->connect('/gateway/tokens/1.0/aud', headers => {
           Authorization => 'Bearer ' . jwt(claims => { sub => $A, aud => [ 'x', 'ws-api' ] }) })->status,
       101, 'aud an array that holds the audience');

    refused($gw->connect('/gateway/tokens/1.0/b', headers => {
                Authorization => 'Bearer ' . jwt(claims => { sub => $B }) }),
            403, 'application_not_registered', 'a valid token of an application not registered');

    refused($gw->connect("/gateway/tokens/1.0/k?apiKey=$keyA"), 401, 'credentials_required',
            'an API key where only jwt is accepted');
}

# both methods
{
    my $ws = $gw->connect('/gateway/both/1.0/none');
    refused($ws, 401, 'credentials_required', 'both: no credentials');
    is_deeply([ challenges($ws) ], [ 'APIKey realm="ws-api"', 'Bearer realm="ws-api"' ],
              'both: a challenge for each method, in order');
    is($gw->connect('/gateway/both/1.0/key', headers => { 'x-Gateway-APIKey' => $keyA })->status, 101,
       'both: a key');
    is($gw->connect('/gateway/both/1.0/jwt?access_token=' . jwt(alg => 'ES256', claims => { sub => $A }))
       ->status, 101, 'both: a token');
}

###############################################################################
# live connections follow their credentials: 1008 to the client, 1001 to
# the backend, within a second

sub ended_1008 {
    my ($ws, $path, $reason, $name, $t0) = @_;
    my $f = $ws->read_frame($t);
    $f = $ws->read_frame($t) while $f && $f->{opcode} != 8;
    my $dt = Time::HiRes::time - $t0;
    ok($f && unpack('n', $f->{payload}) == 1008 && substr($f->{payload}, 2) eq $reason,
       sprintf('%s: the live connection gets 1008 "%s" (%.3f s after the change)',
               $name, $reason, $dt))
        or diag('got ' . ($f ? unpack('n', $f->{payload}) . ' ' . substr($f->{payload}, 2)
                             : 'nothing'));
    cmp_ok($dt, '<', 1.5 * ($ENV{WSAPI_TIMEOUT_SCALE} || 1), "$name: within a second");
    $ws->close_handshake(1008, '', $t);
    my @c = $gw->backend->wait_log(event => 'frame', path => "/stream/$path",
                                   where => sub { $_[0]{opcode} == 8 });
    my $p = @c ? pack('H*', $c[0]{hex}) : '';
    ok(length $p >= 2 && unpack('n', $p) == 1001 && substr($p, 2) eq $reason,
       "$name: the backend gets 1001 \"$reason\"");
}

{
    $r = admin(POST => 'applications', { name => 'moving', apiIds => [ $keyed->{id}, $open->{id} ] });
    my ($C, $keyC) = ($r->{json}{id}, $r->{json}{apiKey});
    my $ws;
    ok(poll_until($t, sub {
        $ws = $gw->connect('/gateway/keyed/1.0/unreg', headers => { 'x-Gateway-APIKey' => $keyC });
        $ws->status == 101 or do { $ws->disconnect; 0 }
    }), 'an application registered for the API connects');
    my $anon_ws = $gw->connect('/gateway/anon/1.0/unreg-anon');
    is($anon_ws->status, 101, 'an anonymous client of another API connects');
    my $t0 = Time::HiRes::time;
    is(admin(PUT => "applications/$C", { name => 'moving', apiIds => [ $open->{id} ] })->{status},
       200, 'the application is no longer registered for the API');
    ended_1008($ws, 'unreg', 'application not registered for this API', 'unregistered', $t0);
    $anon_ws->send_text('still');
    is(($anon_ws->read_message($t) // {})->{payload}, 'still',
       'a connection without an application is left alone');
    $anon_ws->close_handshake(1000, '', $t);
    admin(DELETE => "applications/$C");
}

###############################################################################
# revocation across two nginx sharing the Redis

{
    my $gw2 = gateway(redis => $gw->redis, backend => $gw->backend);

    $r = admin(POST => "applications/$A/keys");
    my ($key2, $kid2) = ($r->{json}{apiKey}, $r->{json}{keyId});
    my ($kid1) = grep { $_ ne $kid2 } map { $_->{id} } @{ $r->{json}{keys} };

    ok(poll_until($t, sub {
        my $ok = 1;
        for my $g ($gw, $gw2) {
            $ok &&= $g->connect('/gateway/keyed/1.0/rot', headers => { 'x-Gateway-APIKey' => $key2 })
                      ->status == 101;
        }
        $ok
    }), 'a new key works on both nginx');
    is($gw2->connect('/gateway/keyed/1.0/rot', headers => { 'x-Gateway-APIKey' => $keyA })->status, 101,
       'and the old one still does');

    my $live = $gw2->connect('/gateway/keyed/1.0/live', headers => { 'x-Gateway-APIKey' => $keyA });
    is($live->status, 101, 'a connection open with the old key');
    my $live2 = $gw->connect('/gateway/keyed/1.0/live2', headers => { 'x-Gateway-APIKey' => $key2 });
    is($live2->status, 101, 'one with the new key');
    my $liveJ = $gw2->connect('/gateway/tokens/1.0/liveJ', headers => {
        Authorization => 'Bearer ' . jwt(claims => { sub => $A }) });
    is($liveJ->status, 101, 'one with a token of the application');

    my $t0 = Time::HiRes::time;
    is(admin(DELETE => "applications/$A/keys/$kid1")->{status}, 204, 'the old key deleted');
    my $took = poll_until($t, sub {
        my $ok = 1;
        for my $g ($gw, $gw2) {
            $ok &&= $g->connect('/gateway/keyed/1.0/rev', headers => { 'x-Gateway-APIKey' => $keyA })
                      ->status == 401;
        }
        $ok
    });
    ok($took, 'the deleted key is refused by both nginx');
    my $elapsed = Time::HiRes::time - $t0;
    cmp_ok($elapsed, '<', 1.5 * ($ENV{WSAPI_TIMEOUT_SCALE} || 1), sprintf('within a second (%.3f s)', $elapsed));
    is($gw2->connect('/gateway/keyed/1.0/rot', headers => { 'x-Gateway-APIKey' => $key2 })->status, 101,
       'the new key still works');

    ended_1008($live, 'live', 'API key revoked', 'a revoked key, on the other nginx', $t0);
    for ([$live2, 'the new key'], [$liveJ, 'the token']) {
        $_->[0]->send_text('still here');
        is(($_->[0]->read_message($t) // {})->{payload}, 'still here',
           "a live connection with $_->[1] stays");
    }

    $t0 = Time::HiRes::time;
    is(admin(DELETE => "applications/$A")->{status}, 204, 'the application deleted');
    ended_1008($live2, 'live2', 'application deleted', 'a deleted application, key', $t0);
    ended_1008($liveJ, 'liveJ', 'application deleted', 'a deleted application, token, on the other nginx',
               $t0);
    ok(poll_until($t, sub {
        my $ok = 1;
        for my $g ($gw, $gw2) {
            $ok &&= $g->connect('/gateway/keyed/1.0/del', headers => { 'x-Gateway-APIKey' => $key2 })
                      ->status == 401;
            $ok &&= $g->connect('/gateway/tokens/1.0/del', headers => {
                        Authorization => 'Bearer ' . jwt(claims => { sub => $A }) })->status == 401;
        }
        $ok
    }), 'its keys and tokens are refused by both nginx');
    $elapsed = Time::HiRes::time - $t0;
    cmp_ok($elapsed, '<', 1.5 * ($ENV{WSAPI_TIMEOUT_SCALE} || 1), sprintf('within a second (%.3f s)', $elapsed));

    unlike($gw->nginx->error_log . $gw2->nginx->error_log, qr/\[alert\]|exited on signal/, 'no crash');
}

done_testing;
