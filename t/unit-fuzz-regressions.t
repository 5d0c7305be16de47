#!/usr/bin/perl

# The libFuzzer targets of t/fuzz/, built by "make unit" (clang, ASan,
# UBSan), each run once on every file of its seed corpus
# (t/fuzz/corpus/<target>/) and of its reproducers
# (t/fuzz/regressions/<target>/): no crash, no sanitizer report, no leak,
# no broken invariant.  Run by prove from the top of the tree; fuzzing
# itself is "make fuzz".

use strict;
use warnings;

use Test::More;

my @targets = qw(frame def param extract schema jwt);

$ENV{UBSAN_OPTIONS} //= 'print_stacktrace=1';

for my $t (@targets) {
    my $bin = "./build/fuzz/fuzz_$t";

    if (!-x $bin) {
        BAIL_OUT("$bin is missing (make unit)");
    }

    for my $dir ("t/fuzz/corpus/$t", "t/fuzz/regressions/$t") {
        my @files = grep { -f } glob("$dir/*");

        next unless @files || $dir =~ /corpus/;

        ok(@files, "$dir has files") or next;

        # one run of each file; libFuzzer stops at the first that fails

        my $args = join(' ', map { quotemeta } @files);
        my $out = qx{$bin -timeout=10 $args 2>&1};
        my $rc = $?;

        ok($rc == 0, "fuzz_$t: " . @files . " files of $dir")
            or diag(join("\n", grep { !/^(Running|Executed)/ }
                                    split(/\n/, $out)));
    }
}

done_testing();
