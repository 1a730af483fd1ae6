/* dlsym caller tests: a dependency of local-c, only in local-c's scope. */
int rc_local_only(void);

int
rc_local_only(void)
{
	return 4;
}
