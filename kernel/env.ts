// The environment a kernel process starts with beside the user's (kernel.json's env, KernelClient's spawn).

/**
 * The kernel's environment beside the user's: glibc's allocator told to keep blocks under 32 MiB in its
 * heap and not to give freed memory back below 1 GiB. Its default adapts both to what a process frees;
 * in the kernel (several threads, a ~75 MB heap of tslab's compiler) large indicator outputs kept coming
 * from fresh mmap'd pages — a page fault per 4 KiB on first write — and adx over 1,000,000 bars ran
 * 1.5–1.8× slower in a notebook cell than under the CLI (test/bench/README.md, indicators by loader).
 * A GLIBC_TUNABLES the user sets is kept as it is.
 */
export const KERNEL_ENV: Readonly<Record<string, string>> = {
  GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824',
}

/** KERNEL_ENV under `env`: what the kernel process is started with (a value `env` has wins). */
export function kernelEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...KERNEL_ENV, ...env }
}
