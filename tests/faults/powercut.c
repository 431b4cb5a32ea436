/* Preloaded (LD_PRELOAD) into a `chat serve` on SQLite by tests/faults/test_durability.py.

   A power cut keeps of a file what was synced to disk, and loses what was only written (the page cache).
   POWERCUT_DIR names the database's folder. Each time a file directly in it is synced (fsync, fdatasync),
   its whole content at that moment is copied to POWERCUT_DIR/durable/<name>: written aside and renamed,
   under an flock of POWERCUT_DIR/durable.lock, which the test takes too while it copies the set. So
   durable/ holds what the disk would hold had the machine lost power at any moment since: no more.

   POWERCUT_DIR/kill-armed, when present, kills the process (SIGKILL) right after the next sync of a -wal
   file by a thread that wrote WAL frames since its last sync: a commit, on disk, that SQLite has not yet
   returned from, so nothing stored by it was acknowledged. The file is removed first: one kill per arming.

   Build: gcc -shared -fPIC -o powercut.so powercut.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/types.h>
#include <unistd.h>

#define WAL_HEADER 32 /* bytes; frames come after it */

static __thread int wrote_frames;

static void fail(const char *what) {
    perror(what);
    abort();
}

/* The name of the file behind `fd` when it lies directly in POWERCUT_DIR, else NULL. */
static const char *watched(int fd, char *path, size_t size) {
    const char *dir = getenv("POWERCUT_DIR");
    char link[64];
    ssize_t n;
    size_t len;
    if (dir == NULL) return NULL;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, path, size - 1);
    if (n <= 0) return NULL;
    path[n] = '\0';
    len = strlen(dir);
    if (strncmp(path, dir, len) != 0 || path[len] != '/' || strchr(path + len + 1, '/') != NULL) return NULL;
    return path + len + 1;
}

static int is_wal(const char *name) {
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, "-wal") == 0;
}

static void keep(int fd, const char *name) {
    const char *dir = getenv("POWERCUT_DIR");
    char lock[PATH_MAX], aside[PATH_MAX], kept[PATH_MAX], buf[65536];
    ssize_t got;
    off_t at = 0;
    int lk, out;
    snprintf(lock, sizeof lock, "%s/durable.lock", dir);
    snprintf(aside, sizeof aside, "%s/durable/.%s", dir, name);
    snprintf(kept, sizeof kept, "%s/durable/%s", dir, name);
    if ((lk = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) fail("powercut: lock");
    if (flock(lk, LOCK_EX) != 0) fail("powercut: flock");
    if ((out = open(aside, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) fail("powercut: copy");
    while ((got = pread(fd, buf, sizeof buf, at)) > 0) {
        if (write(out, buf, (size_t)got) != got) fail("powercut: write");
        at += got;
    }
    if (got < 0) fail("powercut: read");
    close(out);
    if (rename(aside, kept) != 0) fail("powercut: rename");
    flock(lk, LOCK_UN);
    close(lk);
}

/* Copy before the real sync: the content the sync was asked to make durable. */
static int synced(int fd, const char *real_name) {
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, real_name);
    char path[PATH_MAX], armed[PATH_MAX];
    const char *name = watched(fd, path, sizeof path);
    int frames = wrote_frames, rc;
    wrote_frames = 0;
    if (name != NULL) keep(fd, name);
    rc = real(fd);
    if (name != NULL && frames && is_wal(name)) {
        snprintf(armed, sizeof armed, "%s/kill-armed", getenv("POWERCUT_DIR"));
        if (unlink(armed) == 0) kill(getpid(), SIGKILL);
    }
    return rc;
}

int fsync(int fd) { return synced(fd, "fsync"); }

int fdatasync(int fd) { return synced(fd, "fdatasync"); }

static void wrote(int fd, off_t offset) {
    char path[PATH_MAX];
    const char *name;
    if (offset < WAL_HEADER || getenv("POWERCUT_DIR") == NULL) return;
    name = watched(fd, path, sizeof path);
    if (name != NULL && is_wal(name)) wrote_frames = 1;
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    ssize_t (*real)(int, const void *, size_t, off_t) =
        (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    wrote(fd, offset);
    return real(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
    ssize_t (*real)(int, const void *, size_t, off64_t) =
        (ssize_t (*)(int, const void *, size_t, off64_t))dlsym(RTLD_NEXT, "pwrite64");
    wrote(fd, (off_t)offset);
    return real(fd, buf, count, offset);
}
