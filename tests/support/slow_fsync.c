/*
 * A slow disk for one process: LD_PRELOAD this library and every fsync,
 * fdatasync and sync_file_range first sleeps a random time, then does the
 * real call. SLOW_FSYNC_MIN_MS and SLOW_FSYNC_MAX_MS give the range
 * (default 40-150 ms, what a Raspberry Pi's SD card takes).
 *
 * Built by tests/support/slow_fsync.py with the system C compiler.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long min_ms = 40;
static long max_ms = 150;
static unsigned int seed;
static pthread_mutex_t seed_lock = PTHREAD_MUTEX_INITIALIZER;

static long setting(const char *name, long fallback)
{
    const char *text = getenv(name);
    return text && *text ? strtol(text, NULL, 10) : fallback;
}

__attribute__((constructor)) static void configure(void)
{
    min_ms = setting("SLOW_FSYNC_MIN_MS", min_ms);
    max_ms = setting("SLOW_FSYNC_MAX_MS", max_ms);
    if (max_ms < min_ms)
        max_ms = min_ms;
    seed = (unsigned int)getpid() ^ (unsigned int)time(NULL);
}

static void stall(void)
{
    pthread_mutex_lock(&seed_lock);
    long ms = min_ms + rand_r(&seed) % (max_ms - min_ms + 1);
    pthread_mutex_unlock(&seed_lock);
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&pause, &pause) == -1)
        ; /* a signal: sleep the rest */
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    stall();
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    stall();
    return real(fd);
}

int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags)
{
    static int (*real)(int, off_t, off_t, unsigned int);
    if (!real)
        real = (int (*)(int, off_t, off_t, unsigned int))dlsym(RTLD_NEXT, "sync_file_range");
    stall();
    return real(fd, offset, nbytes, flags);
}
