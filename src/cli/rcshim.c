/* rcshim: the command people type.  Subcommands, --help and --version. */
#include "build-config.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

int
main(int argc, char **argv)
{
	if (argc < 2) {
		return cli_usage_error("no command given (run, clean, report, sweep, plot or print)");
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "run")) {
		return cli_run(argc - 1, argv + 1);
	}
	if (!strcmp(sub, "clean")) {
		return cli_clean(argc - 1, argv + 1);
	}
	if (!strcmp(sub, "report")) {
		return cli_report(argc - 1, argv + 1);
	}
	if (!strcmp(sub, "sweep")) {
		return cli_sweep(argc - 1, argv + 1);
	}
	if (!strcmp(sub, "plot")) {
		return cli_plot(argc - 1, argv + 1);
	}
	if (!strcmp(sub, "print")) {
		return cli_print(argc - 1, argv + 1);
	}
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		cli_help(stdout);
		return fflush(stdout) == 0 ? 0 : CLI_EXIT_FAILED;
	}
	if (!strcmp(sub, "--version") || !strcmp(sub, "-V")) {
		return cli_version();
	}
	if (sub[0] == '-') {
		return cli_usage_error("unknown option '%s' (options come after the command: "
				       "rcshim run [OPTIONS] -- CMD)", sub);
	}
	return cli_usage_error("unknown command '%s' (run, clean, report, sweep, plot or print)", sub);
}
