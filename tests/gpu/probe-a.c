/* dlsym caller tests: the first definition of rc_probe. */
int rc_probe(void);
int rc_probe_a(void);

int
rc_probe(void)
{
	return 1;
}

/* Named by the program, so that the linker keeps this library. */
int
rc_probe_a(void)
{
	return 1;
}
