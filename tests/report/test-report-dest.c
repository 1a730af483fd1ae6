/* Where a report may go, and what it may say (DESIGN §5): the attacks on
 * the report file and on fd 2, run against python3 and sh with the shim
 * preloaded.  What must survive is asserted as hard as what is refused:
 * the file someone else's data is in keeps its exact bytes, the program
 * prints and ends as it does without the shim.  (The attacks that need a
 * second user: tests/cli/test-report-users.c.) */
#include "build-config.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include "report-util.h"
#include "test.h"

static const char *
python(void)
{
	const char *p = getenv("RCSHIM_TEST_PYTHON");
	return p && *p ? p : "python3";
}

static void
write_mode(const char *path, const char *content, mode_t mode)
{
	t_write_file(path, content);
	ck_assert_int_eq(chmod(path, mode), 0);
}

static void
assert_content(const char *path, const char *want)
{
	char *got = t_read_file(path);
	ck_assert_msg(got, "%s is gone", path);
	ck_assert_msg(strcmp(got, want) == 0, "%s changed: now \"%.200s\", was \"%s\"", path, got,
		      want);
	free(got);
}

/* python3 -c @prog with @env, bare and under the shim: the same output,
 * the same end.  The shim's run is left in @shim. */
static void
run_python(const char *const *env, const char *prog, struct rc_run *shim)
{
	struct rc_run bare;
	const char *argv[] = { "python3", "-c", prog, NULL };
	t_run(&bare, false, env, NULL, argv);
	t_run(shim, true, env, NULL, argv);
	ck_assert_str_eq(shim->out, bare.out);
	ck_assert_status_eq(shim->status, bare.status);
	t_run_free(&bare);
}

/* One line on stderr: "rcshim: report not written to PATH: WHY". */
static void
assert_refused(const struct rc_run *r, const char *path, const char *why)
{
	char want[2048];
	snprintf(want, sizeof(want), "rcshim: report not written to %s: %s\n", path, why);
	ck_assert_msg(strcmp(r->err, want) == 0, "stderr: \"%s\", want \"%s\"", r->err, want);
}

static const char prog_out[] = "import sys; print('out'); sys.exit(4)";

/* The docs' own example path, with a symlink planted at it: the report
 * never lands in the file the link points to. */
START_TEST(symlink_at_the_path_not_followed)
{
	struct scratch s;
	struct rc_run r;
	char victim[700], link[700], env_report[800], target[700];

	scratch_init(&s);
	snprintf(victim, sizeof(victim), "%s/victim.txt", s.dir);
	snprintf(link, sizeof(link), "%s/rcshim.txt", s.dir);
	write_mode(victim, "keep me\n", 0600);
	ck_assert_int_eq(symlink(victim, link), 0);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", link);
	const char *env[] = { env_report, s.env_tmpdir, s.env_roots, NULL };
	run_python(env, prog_out, &r);
	ck_assert_str_eq(r.out, "out\n");
	assert_content(victim, "keep me\n");
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	ck_assert_int_gt(n, 0);
	target[n] = '\0';
	ck_assert_str_eq(target, victim);
	assert_refused(&r, link, "it is a symbolic link (a report never follows one)");
	t_run_free(&r);
	scratch_fini(&s);
}
END_TEST

/* /tmp/rcshim.%p.txt with a symlink planted for the pid the program will
 * have (sh plants it for its own pid, then execs python3 there). */
START_TEST(symlink_at_the_pid_path_not_followed)
{
	struct scratch s;
	struct rc_run r;
	char victim[700], env_report[800], env_v[800], env_py[800], env_shim[8300];

	scratch_init(&s);
	snprintf(victim, sizeof(victim), "%s/victim.txt", s.dir);
	write_mode(victim, "keep me\n", 0600);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s/rcshim.%%p.txt", s.dir);
	snprintf(env_v, sizeof(env_v), "V=%s", victim);
	snprintf(env_py, sizeof(env_py), "PY=%s", python());
	snprintf(env_shim, sizeof(env_shim), "SHIM=%s", t_preload());
	const char *env[] = { env_report, env_v, env_py, env_shim, s.env_tmpdir, s.env_roots,
			      NULL };
	/* Only python3 runs the shim: sh and ln are the attacker here. */
	t_sh(&r, false, env,
	     "ln -s \"$V\" \"${RCSHIM_REPORT%/*}/rcshim.$$.txt\" && echo $$ && "
	     "LD_PRELOAD=$SHIM exec \"$PY\" -c \"print('out')\"");
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	int pid = atoi(r.out);
	ck_assert_int_gt(pid, 0);
	ck_assert_str_eq(strchr(r.out, '\n') + 1, "out\n");
	assert_content(victim, "keep me\n");
	char path[800], why[200];
	snprintf(path, sizeof(path), "%s/rcshim.%d.txt", s.dir, pid);
	snprintf(why, sizeof(why), "it exists already (a path with %%p is always a new file, "
				   "never appended to)");
	assert_refused(&r, path, why);
	t_run_free(&r);
	scratch_fini(&s);
}
END_TEST

/* As root, RCSHIM_REPORT=/etc/passwd appended a report to it.  Here a
 * scratch file with its content stands for it. */
START_TEST(file_of_another_kind_never_appended_to)
{
	struct scratch s;
	struct rc_run r;
	char passwd[700], env_report[800];
	static const char content[] = "root:x:0:0:root:/root:/bin/bash\n"
				      "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n";

	scratch_init(&s);
	snprintf(passwd, sizeof(passwd), "%s/passwd", s.dir);
	write_mode(passwd, content, 0644);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", passwd);
	const char *env[] = { env_report, s.env_tmpdir, s.env_roots, NULL };
	run_python(env, prog_out, &r);
	ck_assert_str_eq(r.out, "out\n");
	assert_content(passwd, content);
	assert_refused(&r, passwd, "it is not an rcshim report (a file of another kind is "
				   "never appended to)");
	t_run_free(&r);
	scratch_fini(&s);
}
END_TEST

/* An empty file of the user's, and then a file that holds rcshim reports:
 * both appended to (a session's processes share a path without %p). */
START_TEST(empty_file_and_earlier_reports_appended_to)
{
	struct scratch s;
	struct rc_run r;
	char path[700], env_report[800];

	scratch_init(&s);
	snprintf(path, sizeof(path), "%s/report.txt", s.dir);
	write_mode(path, "", 0600);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", path);
	const char *env[] = { env_report, s.env_tmpdir, s.env_roots, NULL };
	for (int i = 0; i < 2; i++) {
		run_python(env, prog_out, &r);
		ck_assert_str_eq(r.err, "");
		t_run_free(&r);
	}
	char *text = t_read_file(path);
	ck_assert_msg(!strncmp(text, "== rcshim report: pid ", 22), "%.300s", text);
	ck_assert_int_eq(count_lines_with(text, "== rcshim report: pid "), 2);
	free(text);

	/* JSON Lines the same way. */
	snprintf(path, sizeof(path), "%s/report.json", s.dir);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", path);
	const char *envj[] = { env_report, "RCSHIM_REPORT_FORMAT=json", s.env_tmpdir,
			       s.env_roots, NULL };
	for (int i = 0; i < 2; i++) {
		run_python(envj, prog_out, &r);
		ck_assert_str_eq(r.err, "");
		t_run_free(&r);
	}
	rq_expect(path, "len(reps)", "2");
	scratch_fini(&s);
}
END_TEST

/* A file its group or others can write (whoever made it so), or one with a
 * second name: refused, and left as it is. */
START_TEST(writable_by_others_or_linked_refused)
{
	struct scratch s;
	struct rc_run r;
	char path[700], other[700], env_report[800], why[200];
	static const mode_t modes[] = { 0666, 0620, 0602 };

	scratch_init(&s);
	snprintf(path, sizeof(path), "%s/report.txt", s.dir);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", path);
	const char *env[] = { env_report, s.env_tmpdir, s.env_roots, NULL };
	for (size_t i = 0; i < sizeof(modes) / sizeof(*modes); i++) {
		unlink(path);
		write_mode(path, "", modes[i]);
		run_python(env, prog_out, &r);
		assert_content(path, "");
		snprintf(why, sizeof(why), "its group or others can write to it (mode 0%o)", (unsigned)modes[i]);
		assert_refused(&r, path, why);
		t_run_free(&r);
	}

	unlink(path);
	snprintf(other, sizeof(other), "%s/elsewhere.txt", s.dir);
	write_mode(other, "", 0600);
	ck_assert_int_eq(link(other, path), 0);
	run_python(env, prog_out, &r);
	assert_content(other, "");
	assert_refused(&r, path, "it has 2 hard links");
	t_run_free(&r);
	scratch_fini(&s);
}
END_TEST

/* A path with %p is created new: a file already there for the pid, even
 * the user's own and empty, is never appended to. */
START_TEST(pid_path_existing_file_refused)
{
	struct scratch s;
	struct rc_run r;
	char env_report[800], env_py[800], env_shim[8300];

	scratch_init(&s);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s/r.%%p.txt", s.dir);
	snprintf(env_py, sizeof(env_py), "PY=%s", python());
	snprintf(env_shim, sizeof(env_shim), "SHIM=%s", t_preload());
	const char *env[] = { env_report, env_py, env_shim, s.env_tmpdir, s.env_roots, NULL };
	t_sh(&r, false, env,
	     "f=\"${RCSHIM_REPORT%/*}/r.$$.txt\"; printf 'mine\\n' > \"$f\" && chmod 600 \"$f\" && "
	     "echo $$ && LD_PRELOAD=$SHIM exec \"$PY\" -c \"print('out')\"");
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "%s", r.err);
	int pid = atoi(r.out);
	char path[800];
	snprintf(path, sizeof(path), "%s/r.%d.txt", s.dir, pid);
	assert_content(path, "mine\n");
	ck_assert_msg(strstr(r.err, ": it exists already") && count_lines(r.err) == 1, "%s", r.err);
	t_run_free(&r);
	scratch_fini(&s);
}
END_TEST

/* Reports hold command lines, paths and stacks: a file the shim creates
 * is 0600, whatever the umask lets through. */
START_TEST(created_private)
{
	struct scratch s;
	struct rc_run r;
	char env_report[900], path[800];

	scratch_init(&s);
	for (size_t i = 0; i < 2; i++) {
		snprintf(env_report, sizeof(env_report), i == 0 ? "RCSHIM_REPORT=%s/new.txt"
								: "RCSHIM_REPORT=%s/new.%%p.txt",
			 s.dir);
		const char *env[] = { env_report, s.env_tmpdir, s.env_roots, NULL };
		t_sh(&r, true, env, "umask 000; echo $$");
		ck_assert_int_eq(r.status, 0);
		ck_assert_str_eq(r.err, "");
		if (i == 0) {
			snprintf(path, sizeof(path), "%s/new.txt", s.dir);
		} else {
			snprintf(path, sizeof(path), "%s/new.%d.txt", s.dir, atoi(r.out));
		}
		struct stat st;
		ck_assert_msg(lstat(path, &st) == 0, "no report %s", path);
		ck_assert(S_ISREG(st.st_mode));
		ck_assert_uint_eq(st.st_mode & 07777, 0600);
		char *text = t_read_file(path);
		ck_assert_msg(!strncmp(text, "== rcshim report: pid ", 22), "%.300s", text);
		free(text);
		t_run_free(&r);
	}
	scratch_fini(&s);
}
END_TEST

/* A name with a newline cannot add a line to a text report; an ESC cannot
 * reach the reader's terminal. */
START_TEST(text_report_escapes_names)
{
	struct scratch s;
	struct rc_run r;
	char report[700], env_report[800], env_dir[800];
	static const char prog[] =
		"import os, tempfile\n"
		"name = 'a\\ncd;touch PWNED #'\n"
		"d = tempfile.mkdtemp(suffix=name)\n"
		"f = os.open(os.path.join(os.environ['DIR'], 'x\\x1b[2J' + name), os.O_CREAT | os.O_WRONLY)\n"
		"print('out')\n";

	scratch_init(&s);
	snprintf(report, sizeof(report), "%s/report.txt", s.dir);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", report);
	snprintf(env_dir, sizeof(env_dir), "DIR=%s", s.dir);
	const char *env[] = { env_report, env_dir, s.env_tmpdir, s.env_roots, NULL };
	run_python(env, prog, &r);
	ck_assert_str_eq(r.out, "out\n");
	char *text = t_read_file(report);
	ck_assert_msg(text, "no report; stderr: %s", r.err);
	/* No line of the report starts with what followed the newline. */
	ck_assert_msg(!strstr(text, "\ncd;touch PWNED #"), "%.1500s", text);
	ck_assert_msg(!strchr(text, '\033'), "%.1500s", text);
	ck_assert_msg(strstr(text, "a\\ncd;touch PWNED #\n"), "%.1500s", text);
	ck_assert_msg(strstr(text, "/x\\x1b[2Ja\\ncd;touch PWNED #\n"), "%.1500s", text);
	free(text);
	t_run_free(&r);
	scratch_fini(&s);
}
END_TEST

/* JSON gives every byte of a name back: a name that is not UTF-8 gets its
 * bytes in "path_hex" too; one that is needs nothing more. */
START_TEST(json_report_keeps_every_byte)
{
	struct scratch s;
	struct rc_run r, py;
	char report[700], env_report[800], env_dir[800];
	static const char prog[] =
		"import os\n"
		"d = os.environb[b'DIR']\n"
		"for n in [b'/bad\\xff\\xfe name \\x01\\n', b'/caf\\xc3\\xa9', b'/latin1 caf\\xe9']:\n"
		"    os.open(d + n, os.O_CREAT | os.O_WRONLY)\n"
		"print('out')\n";
	static const char check[] =
		"import json, os, sys\n"
		"d = os.environb[b'DIR']\n"
		"r = [json.loads(l) for l in open(sys.argv[1], encoding='utf-8')][-1]\n"
		"items = [i for k in r['kinds'] if k['kind'] == 'fd' for g in k['groups'] "
		"for i in g['items']]\n"
		"def raw(i):\n"
		"    return bytes.fromhex(i['path_hex']) if 'path_hex' in i "
		"else i['path'].encode('utf-8')\n"
		"paths = [raw(i) for i in items]\n"
		"for name in [b'/bad\\xff\\xfe name \\x01\\n', b'/caf\\xc3\\xa9', b'/latin1 caf\\xe9']:\n"
		"    assert d + name in paths, (name, paths)\n"
		"for i in items:\n"
		"    p = raw(i)\n"
		"    try:\n"
		"        p.decode('utf-8')\n"
		"        assert 'path_hex' not in i and i['path'] == p.decode(), i\n"
		"    except UnicodeDecodeError:\n"
		"        assert 'path_hex' in i, i\n"
		"print('ok')\n";

	scratch_init(&s);
	snprintf(report, sizeof(report), "%s/report.json", s.dir);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", report);
	snprintf(env_dir, sizeof(env_dir), "DIR=%s", s.dir);
	const char *env[] = { env_report, "RCSHIM_REPORT_FORMAT=json", env_dir, s.env_tmpdir,
			      s.env_roots, NULL };
	run_python(env, prog, &r);
	ck_assert_str_eq(r.out, "out\n");
	const char *argv[] = { "python3", "-c", check, report, NULL };
	const char *penv[] = { env_dir, NULL };
	t_run(&py, false, penv, NULL, argv);
	ck_assert_msg(py.status == 0 && !strcmp(py.out, "ok\n"), "%s%s", py.out, py.err);
	t_run_free(&py);
	t_run_free(&r);
	scratch_fini(&s);
}
END_TEST

static bool
dir_is_empty_but(const char *dir, const char *keep)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, keep)) {
			empty = false;
		}
	}
	closedir(d);
	return empty;
}

/* RCSHIM_REPORT=none, =1: one line naming the variable, the value, what
 * is accepted and the default (no report); no file anywhere. */
START_TEST(report_value_that_is_not_a_path)
{
	struct scratch s;
	struct rc_run r;
	char env_dir[800];
	static const char *const values[] = { "none", "1", "yes" };

	scratch_init(&s);
	snprintf(env_dir, sizeof(env_dir), "DIR=%s", s.dir);
	for (size_t i = 0; i < sizeof(values) / sizeof(*values); i++) {
		char env_report[64], want[512];
		snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", values[i]);
		const char *env[] = { env_report, env_dir, s.env_tmpdir, s.env_roots, NULL };
		t_sh(&r, true, env, "cd \"$DIR\" && echo out && /bin/true && exit 5");
		ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 5, "%s", r.err);
		ck_assert_str_eq(r.out, "out\n");
		snprintf(want, sizeof(want),
			 "rcshim: RCSHIM_REPORT=%s is not valid (not a path: no '/' in it; "
			 "accepted: a path with a '/' in it (./NAME for the current directory, "
			 "%%p for the pid) of at most 1023 characters, or - for stderr); "
			 "using no report\n", values[i]);
		ck_assert_str_eq(r.err, want);
		ck_assert_msg(dir_is_empty_but(s.dir, "tmp"), "a file appeared in %s", s.dir);
		t_run_free(&r);
	}
	scratch_fini(&s);
}
END_TEST

/* A program that closed stderr and opened its data file on fd 2: neither
 * a log line nor RCSHIM_REPORT=- lands in its data.  With fd 2 intact,
 * both are written there. */
START_TEST(nothing_into_a_data_file_on_fd_2)
{
	struct scratch s;
	struct rc_run r;
	char data[700], env_data[800];
	static const char prog[] =
		"import os, tempfile\n"
		"tempfile.mkdtemp()\n"
		"if os.environ.get('SWAP'):\n"
		"    os.close(2)\n"
		"    fd = os.open(os.environ['DATA'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
		"    assert fd == 2, fd\n"
		"    os.write(fd, b'payload\\n')\n"
		"print('out')\n";

	scratch_init(&s);
	snprintf(data, sizeof(data), "%s/data.bin", s.dir);
	snprintf(env_data, sizeof(env_data), "DATA=%s", data);
	const char *env[] = { "RCSHIM_REPORT=-", "RCSHIM_LOG=info", env_data, s.env_tmpdir,
			      s.env_roots, "SWAP=1", NULL };
	run_python(env, prog, &r);
	ck_assert_str_eq(r.out, "out\n");
	ck_assert_str_eq(r.err, "");
	assert_content(data, "payload\n");
	t_run_free(&r);

	/* The same without the swap: the line and the report on stderr. */
	env[5] = NULL;
	run_python(env, prog, &r);
	ck_assert_str_eq(r.out, "out\n");
	ck_assert_msg(strstr(r.err, "rcshim: ") && strstr(r.err, "== rcshim report: pid "), "%s",
		      r.err);
	t_run_free(&r);
	scratch_fini(&s);
}
END_TEST

/* The shim's own lines escape names too: a report path with a newline in
 * it is named on one line. */
START_TEST(warning_names_path_on_one_line)
{
	struct scratch s;
	struct rc_run r;
	char dir[700], env_report[800], want[1000];

	scratch_init(&s);
	snprintf(dir, sizeof(dir), "%s/bad\nline", s.dir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(env_report, sizeof(env_report), "RCSHIM_REPORT=%s", dir);
	const char *env[] = { env_report, s.env_tmpdir, s.env_roots, NULL };
	run_python(env, prog_out, &r);
	snprintf(want, sizeof(want), "rcshim: report not written to %s/bad\\nline: it is a "
				     "directory\n", s.dir);
	ck_assert_str_eq(r.err, want);
	t_run_free(&r);
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(report_dest)
{
	ADD_TEST(s, symlink_at_the_path_not_followed);
	ADD_TEST(s, symlink_at_the_pid_path_not_followed);
	ADD_TEST(s, file_of_another_kind_never_appended_to);
	ADD_TEST(s, empty_file_and_earlier_reports_appended_to);
	ADD_TEST(s, writable_by_others_or_linked_refused);
	ADD_TEST(s, pid_path_existing_file_refused);
	ADD_TEST(s, created_private);
	ADD_TEST(s, text_report_escapes_names);
	ADD_TEST(s, json_report_keeps_every_byte);
	ADD_TEST(s, report_value_that_is_not_a_path);
	ADD_TEST(s, nothing_into_a_data_file_on_fd_2);
	ADD_TEST(s, warning_names_path_on_one_line);
}
