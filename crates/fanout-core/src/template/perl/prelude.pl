# fanout's perl coprocess: evaluates {= perl =} replacement strings.
# One process per fanout run. Requests come on stdin, answers go to
# stdout, both length-prefixed (values may hold any byte):
#   C <len>\n<code>            compile; answer "K <id>\n" or "E <len>\n<msg>"
#   J <seq> <slot> <total> <slots> <completed> <nargs> <nreq>\n
#     then nargs x "<len>\n<bytes>" (the job's values, $arg[1]...)
#     then nreq x "<id> <len>\n<bytes>" (an expression, and $_ for it)
#   answer "R <skip>\n" then nreq x "<len> <unquoted>\n<bytes>",
#   or "E <len>\n<msg>" when an expression died.
use strict;
no warnings;
use POSIX ();
binmode STDIN;
binmode STDOUT;

our (@arg, $fanout_seq, $fanout_slot, $fanout_total, $fanout_slots, $fanout_skip, $fanout_uq);

package Fanout::Job;
sub seq { $main::fanout_seq }
sub slot { $main::fanout_slot }
sub skip { $main::fanout_skip = 1; undef }
sub total_jobs { $main::fanout_total }

package main;
no warnings;
my $job = bless {}, 'Fanout::Job';

sub seq() { $fanout_seq }
sub slot() { $fanout_slot }
sub total_jobs() { $fanout_total }
sub skip() { $fanout_skip = 1; undef }
sub uq() { $fanout_uq = 1; undef }

# Quote for the shell as fanout does: safe words as they are, the rest in
# single quotes.
sub Q($) {
    my $s = shift;
    return "''" if !defined $s or $s eq '';
    return $s if $s =~ m{^[-A-Za-z0-9_/.+,:@%=]+$};
    $s =~ s/'/'"'"'/g;
    return "'$s'";
}

# GNU parallel's own names for Q, which --rpl definitions call.
sub shell_quote_scalar($) { Q($_[0]) }
sub shell_quote { wantarray ? map { Q($_) } @_ : join(" ", map { Q($_) } @_) }

# Quote for a perl string.
sub pQ($) {
    my $s = shift;
    $s =~ s/([\\"\$\@])/\\$1/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub hash($) {
    require B;
    return B::hash($_[0]);
}

sub uniq { my %seen; return grep { !$seen{$_}++ } @_; }

# As in GNU parallel's own package, where expressions are evaluated.
sub dirname { require File::Basename; File::Basename::dirname(@_) }
sub basename { require File::Basename; File::Basename::basename(@_) }

# A regexp's greedy quantifiers made lazy, for {#str} and {%str}.
sub make_regexp_ungreedy {
    my $re = shift;
    my ($out, $in_class, $escaped, $after) = ('', 0, 0, 0);
    for my $c (split //, $re) {
        if ($after) { $out .= '?' if $c ne '?'; $after = 0; }
        $out .= $c;
        if ($escaped) { $escaped = 0; next; }
        if ($c eq '\\') { $escaped = 1; next; }
        if ($in_class) { $in_class = 0 if $c eq ']'; next; }
        if ($c eq '[') { $in_class = 1; next; }
        $after = 1 if $c eq '*' or $c eq '+' or $c eq '?' or $c eq '}';
    }
    $out .= '?' if $after;
    return $out;
}

sub fmt_time { my $f = shift; POSIX::strftime($f, localtime(shift || time())) }
sub yyyy_mm_dd_hh_mm_ss(@) { fmt_time("%Y-%m-%dT%H:%M:%S", @_) }
sub yyyy_mm_dd_hh_mm(@) { fmt_time("%Y-%m-%dT%H:%M", @_) }
sub yyyy_mm_dd(@) { fmt_time("%Y-%m-%d", @_) }
sub hh_mm_ss(@) { fmt_time("%H:%M:%S", @_) }
sub hh_mm(@) { fmt_time("%H:%M", @_) }
sub yyyymmddhhmmss(@) { fmt_time("%Y%m%d%H%M%S", @_) }
sub yyyymmddhhmm(@) { fmt_time("%Y%m%d%H%M", @_) }
sub yyyymmdd(@) { fmt_time("%Y%m%d", @_) }
sub hhmmss(@) { fmt_time("%H%M%S", @_) }
sub hhmm(@) { fmt_time("%H%M", @_) }

sub fanout_read {
    my $len = shift;
    my $buf = '';
    while (length($buf) < $len) {
        my $n = read(STDIN, $buf, $len - length($buf), length($buf));
        exit 0 unless $n;
    }
    return $buf;
}

sub fanout_error {
    my $msg = shift;
    $msg =~ s/\s+$//;
    $msg =~ s/,? <STDIN> line \d+\.$//;
    utf8::encode($msg) if utf8::is_utf8($msg);
    print STDOUT "E ", length($msg), "\n", $msg;
    STDOUT->flush();
}

my @subs;
$| = 0;
while (defined(my $line = <STDIN>)) {
    if ($line =~ /^C (\d+)$/) {
        my $code = fanout_read($1);
        my $sub = eval "package main; no strict; no warnings; sub { my \$job = shift; $code\n}";
        if ($sub) {
            push @subs, $sub;
            print STDOUT "K ", $#subs, "\n";
            STDOUT->flush();
        } else {
            fanout_error($@);
        }
    } elsif ($line =~ /^J (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)$/) {
        my ($seq, $slot, $total, $slots, $done, $nargs, $nreq) = ($1, $2, $3, $4, $5, $6, $7);
        my @values = (undef);
        for (1 .. $nargs) {
            my $len = <STDIN>;
            push @values, fanout_read($len + 0);
        }
        my @reqs;
        for (1 .. $nreq) {
            my ($id, $len) = split ' ', scalar <STDIN>;
            push @reqs, [$id, fanout_read($len)];
        }
        ($fanout_seq, $fanout_slot, $fanout_skip) = ($seq, $slot, 0);
        ($fanout_total, $fanout_slots) = ($total, $slots);
        # GNU parallel's own count of the jobs that have ended.
        $Global::total_completed = $done;
        my @out;
        my $died;
        for my $r (@reqs) {
            my ($id, $value) = @$r;
            local @arg = @values;
            local $_ = $value;
            $fanout_uq = 0;
            eval { $subs[$id]->($job); 1 } or do { $died = $@ || 'died'; last };
            my $v = defined $_ ? "$_" : '';
            utf8::encode($v) if utf8::is_utf8($v);
            push @out, [$v, $fanout_uq ? 1 : 0];
        }
        if (defined $died) {
            fanout_error($died);
            next;
        }
        print STDOUT "R ", ($fanout_skip ? 1 : 0), "\n";
        for my $o (@out) {
            print STDOUT length($o->[0]), " ", $o->[1], "\n", $o->[0];
        }
        STDOUT->flush();
    } else {
        exit 2;
    }
}
