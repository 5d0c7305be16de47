# the frame parser and UTF-8 check: C unit tests (t/unit/test_frame.c);
# the throughput figures are for "make bench", not for every test run
$ENV{TEST_BENCH_MB} //= 0;
exec './build/unit/test_frame' or die "build/unit/test_frame: $! (make unit)\n";
