#include "build-config.h"

#include "common.h"
#include "test.h"

/* Descriptor juggling of every interposed kind gives the bare output. */
START_TEST(fd_operations_behave_as_bare)
{
	struct scratch s;
	struct rc_run bare, shim;
	const char *env[] = { s.env_tmpdir, NULL };
	const char *argv[] = { "python3", "-c",
			       "import os, fcntl, tempfile, subprocess\n"
			       "fd, p = tempfile.mkstemp()\n"
			       "os.write(fd, b'abc')\n"
			       "d = os.dup(fd); d2 = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 50)\n"
			       "os.dup2(d, 40); os.close(d)\n"
			       "os.lseek(40, 0, 0); print(os.read(40, 3), d2 >= 50)\n"
			       "f = os.fdopen(d2, 'rb'); f.seek(0); print(f.read()); f.close()\n"
			       "t = tempfile.TemporaryFile(); t.write(b'x'); t.close()\n"
			       "out = subprocess.run(['cat', p], capture_output=True).stdout\n"
			       "print(out); os.close(fd); os.close(40)\n"
			       "os.closerange(3, 1000)\n"
			       "with open(p, 'x' if False else 'r') as g: print(g.read())\n"
			       "os.unlink(p); print(os.path.exists(p))\n",
			       NULL };

	scratch_init(&s);
	t_run(&bare, false, env, NULL, argv);
	t_run(&shim, true, env, NULL, argv);
	ck_assert_str_eq(bare.out, "b'abc' True\nb'abc'\nb'abc'\nabc\nFalse\n");
	ck_assert_str_eq(shim.out, bare.out);
	ck_assert_status_eq(shim.status, bare.status);
	ck_assert_str_eq(shim.err, "");
	t_run_free(&bare);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

/* stdio buffers are not lost at exit: fds are left to the kernel. */
START_TEST(unflushed_stdio_survives_exit)
{
	struct scratch s;
	struct rc_run shim;
	char path[600], cmd[1024];
	scratch_init(&s);
	snprintf(path, sizeof(path), "%s/out.txt", s.dir);
	snprintf(cmd, sizeof(cmd),
		 "awk 'BEGIN { for (i = 0; i < 1000; i++) print i > \"%s\" }'", path);
	const char *env[] = { s.env_tmpdir, NULL };
	t_sh(&shim, true, env, cmd);
	ck_assert_int_eq(shim.status, 0);
	char *content = t_read_file(path);
	ck_assert_ptr_nonnull(content);
	int lines = 0;
	for (char *p = content; *p; p++) {
		lines += *p == '\n';
	}
	ck_assert_int_eq(lines, 1000);
	free(content);
	t_run_free(&shim);
	scratch_fini(&s);
}
END_TEST

TEST_SUITE(fd)
{
	ADD_TEST(s, fd_operations_behave_as_bare);
	ADD_TEST(s, unflushed_stdio_survives_exit);
}
