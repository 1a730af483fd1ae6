/* The real CUDA runtime (libcudart), if the build machine has it, against
 * the fake driver: the runtime loads libcuda.so.1 and looks up every
 * driver function itself.  The fake cannot satisfy the runtime's private
 * export tables, so the runtime gives up after its lookups; what matters
 * is that it does so identically with and without the shim, and that its
 * lookups went through the shim's cuGetProcAddress. */
#include <stddef.h>
#include <stdio.h>

int cudaGetDeviceCount(int *count);
int cudaMalloc(void **p, size_t size);
int cudaRuntimeGetVersion(int *version);

int
main(void)
{
	int n = -1, v = -1;
	void *p = NULL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("cudaRuntimeGetVersion: %d\n", cudaRuntimeGetVersion(&v));
	printf("cudaGetDeviceCount: %d (count %d)\n", cudaGetDeviceCount(&n), n);
	printf("cudaMalloc: %d\n", cudaMalloc(&p, 1 << 20));
	return 0;
}
