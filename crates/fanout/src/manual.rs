//! The parts of `--help` and the man page that are not about one option:
//! replacement strings, examples, exit status, environment. Written once
//! here, for both.

/// The replacement strings, as `--help` ends with them.
pub const REPLACEMENT_STRINGS: &str = "\
Replacement strings (in the command, the --tagstring, --results, --tmpl files):
  {}      the value                {.}   without its extension
  {/}     its basename             {//}  its directory
  {/.}    basename, no extension   {#}   the job's number
  {%}     the job's slot           {N}   the value from source (or column) N;
  {-N}    ... counted from the end       {N.} {N/} {N//} {N/.} likewise
  {name}  the --header column      {= perl =}  $_ after perl code ran on it
  {=N perl =}  the same on value N  {:%fmt}, {N:%fmt}  sprintf-formatted
  With --plus: {+/} {+.} {+..} {..} {...} {/..} {##} {0#} {0%} {:-str} {:N}
  {:N:M} {#str} {%str} {/str1/str2} {^str} {,str} ... (as GNU parallel's).
  Renamed with -I, --er, --bn, --dn, --bne, --seqreplace, --slotreplace;
  more with --rpl 'TAG perl'.";

/// Sections of the man page after the options, in roff.
pub const MAN_SECTIONS: &str = r#".SH "REPLACEMENT STRINGS"
.TP
\fB{}\fR
The input value. \fB{.}\fR without its extension, \fB{/}\fR its basename,
\fB{//}\fR its directory, \fB{/.}\fR the basename without extension.
.TP
\fB{#}\fR, \fB{%}\fR
The job's number, and its job slot.
.TP
\fB{N}\fR, \fB{-N}\fR
The value of input source (or \-\-colsep column) N, or the N-th from the end;
with the modifiers above: \fB{N.}\fR, \fB{N/}\fR, \fB{N//}\fR, \fB{N/.}\fR.
.TP
\fB{name}\fR
With \-\-header: the value of the column named name.
.TP
\fB{= perl =}\fR, \fB{=N perl =}\fR
The value after the perl code ran with it in \fB$_\fR (one perl process per
run), with GNU parallel's helpers: Q(), uq(), hash(), total_jobs(), slot(),
seq(), skip(), yyyy_mm_dd_hh_mm_ss() and the other date helpers.
.TP
\fB\-\-plus\fR
Adds GNU parallel's {+/} {+.} {+..} {..} {...} {/..} {##} {0#} {0%}
{:-str} {:N} {:N:M} {#str} {%str} {/str1/str2} {^str} {,str} and the rest.
.SH EXAMPLES
.nf
fanout gzip ::: *.log
find . \-name '*.png' | fanout \-j4 'convert {} {.}.jpg'
fanout \-k echo {1}\-{2} ::: a b ::: 1 2
fanout \-\-colsep , \-\-header : 'echo {name} is {age}' :::: people.csv
seq 1000000 | fanout \-\-pipe \-\-block 1M wc \-l
fanout \-\-joblog log \-\-retries 3 ./job {} ::: 1 2 3; fanout \-\-joblog log \-\-resume\-failed ./job {} ::: 1 2 3
for f in *.c; do sem \-j4 \-\-id build cc \-c "$f"; done; sem \-\-wait \-\-id build
fanout \-\-broker nats://host:4222 ./simulate {} :::: cases.txt
.fi
.SH "EXIT STATUS"
0 when every job succeeded; the number of failed jobs, up to 100; 101 for more.
With \-\-halt: the failing job's status for fail=1, the percentage of failed jobs
for N%, 0 for success. 255 for fanout's own errors (one line on stderr) and when
interrupted by SIGINT, SIGTERM or a second SIGHUP; 141 when stdout was closed.
.SH ENVIRONMENT
.TP
\fBPARALLEL\fR
Options read before the command line's own.
.TP
\fBPARALLEL_HOME\fR
The configuration directory (default ~/.parallel): config, profiles (\-J),
ignored_vars (\-\-record\-env), semaphores.
.TP
\fBPARALLEL_SHELL\fR
The shell for command lines that need one (default: the calling shell).
.TP
\fBPARALLEL_ENV\fR
Shell code (or a file of it) run before each command line.
.TP
\fBPARALLEL_TMUX\fR
The tmux program for \-\-tmux.
.TP
\fBTMPDIR\fR
Where output that outgrows memory is spooled (\-\-tmpdir overrides it).
.TP
\fBPARALLEL_SEQ\fR, \fBPARALLEL_JOBSLOT\fR
Set for each job: its number and its slot.
.SH "SEE ALSO"
parallel(1), sem(1), xargs(1); docs/COMPATIBILITY.md in fanout's source.
"#;
