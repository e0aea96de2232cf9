#!/usr/bin/env perl
# Reads GNU parallel's tutorial/examples .pod files and writes one shell
# script per command for scripts/gnu-examples: OUT/N.sh (the command,
# after the section's earlier definitions), OUT/N.where (page, section)
# and, for a command this machine cannot run as the page means it,
# OUT/N.skip (why).
#
#   gnu-examples.pl OUT_DIR POD...
use strict;
use warnings;

my ($out, @pods) = @ARGV;
die "usage: gnu-examples.pl OUT_DIR POD...\n" unless $out && @pods;

# A call of one of the programs under test, as a command word.
my $calls = qr/(?:^|[\s|;&(`\$])(?:parallel|sem)(?=\s|$)/m;
# Why a command is not compared, first match wins.
my @skips = (
  [qr/\b(?:env_parallel|parset|parcat|parsort|niceload)\b/, "GNU's companion tool, not part of fanout"],
  [qr/\$SERVER|\bssh\b|--sshlogin|--slf\b|(?:^|\s)-S\s*\S|--trc\b|--transfer|--return\b|--basefile|--bf\s|--cleanup\b|--controlmaster/,
   'needs a remote host'],
  [qr{https?://|\b(?:wget|curl|lynx|youtube-dl|yt-dlp|nmap|ping|traceroute|rsync|lftp|nc)\b|pi\.dk}, 'needs the network'],
  [qr/--sql|\bsql:|mysql|pg:|sqlite/i, 'needs a database (--sql is not in fanout)'],
  [qr{--tmux|--fg\b|--interactive|(?:^|\s)-p(?:\s|$)|\b(?:vi|vim|emacs|less|top|xterm)\b|--tty\b|/dev/tty}, 'needs a terminal'],
  [qr/\b(?:sudo|srun|sbatch|outrun|sshpass)\b/, 'needs root, ssh or a cluster'],
  [qr/install\.sh|\bman\s/, 'installation or manual page'],
);

my $n = 0;
for my $pod (@pods) {
  open my $fh, '<', $pod or die "gnu-examples.pl: $pod: $!\n";
  local $/;
  my $text = <$fh>;
  (my $page = $pod) =~ s:.*/::;
  # Pod paragraphs are separated by lines holding only whitespace.
  my @paras = split /\n(?:[ \t]*\n)+/, $text;
  my ($section, $prev, @defs) = ('', '');
  for (my $i = 0; $i < @paras; $i++) {
    my $p = $paras[$i];
    if ($p =~ /^=head\d\s+(.*)/) { ($section, $prev, @defs) = ($1, ''); next }
    if ($p !~ /^\s/) { $prev = $p; next }
    next if $prev =~ /^Output\b.*:\s*$/s;     # the page's own output
    my $code = unindent($p);
    if ($code =~ m{^#!/usr/bin/parallel}) {
      # A script file: the paragraphs up to the next text are its body.
      while ($i + 1 < @paras && $paras[$i + 1] =~ /^\s/) { $code .= "\n" . unindent($paras[++$i]) }
      write_one($page, $section, shebang($code), \@defs, $code);
      next;
    }
    if ($code =~ $calls) { write_one($page, $section, $code, \@defs, $code); next }
    push @defs, $code if $code =~ /^\s*(?:\w+\s*\(\)\s*\{|export\s|\w+=)/m;
  }
}

sub unindent {
  my ($p) = @_;
  my ($indent) = $p =~ /^([ \t]*)/;
  $p =~ s/^\Q$indent\E//mg;
  return $p;
}

# A #!/usr/bin/parallel script written to a file and run with two arguments.
sub shebang {
  my ($body) = @_;
  return "cat > shebang-script <<'END_OF_SCRIPT'\n$body\nEND_OF_SCRIPT\n"
    . "sed -i \"1s:^#!/usr/bin/parallel:#!\$(command -v parallel):\" shebang-script\n"
    . "chmod +x shebang-script\n./shebang-script foo bar\n";
}

sub write_one {
  my ($page, $section, $code, $defs, $raw) = @_;
  $n++;
  open my $sh, '>', "$out/$n.sh" or die "gnu-examples.pl: $out/$n.sh: $!\n";
  print $sh "$_\n" for @$defs;
  print $sh "$code\n";
  close $sh;
  open my $where, '>', "$out/$n.where" or die;
  print $where "$page: $section";
  close $where;
  for my $skip (@skips) {
    next unless $raw =~ $skip->[0];
    open my $why, '>', "$out/$n.skip" or die;
    print $why $skip->[1];
    last;
  }
}
