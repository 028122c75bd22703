/*
 * guestbench.c - the Linux guest's side of `./keel bench --guest`: /init of
 * a busybox initramfs booted under QEMU with the same settings as Keel's
 * guest. It measures what Keel's in-kernel suite measures, the Linux way:
 *
 *   guest_boot/ready           CLOCK_BOOTTIME at the entry of /init (ms)
 *   guest_pingpong/cross:0     futex round trip, both threads on CPU 0
 *   guest_pingpong/cross:1     futex round trip, threads on CPU 0 and 1
 *   guest_thread_create_exit   pthread_create + pthread_join
 *
 * Each result is one console line `kbench: {JSON}` in Google Benchmark's
 * shape, then `kbench: done`, then the machine powers off so QEMU exits.
 * The minimum time of each measure comes from `keelbench.mintime_ms=N` on
 * the kernel command line (a dotted parameter, so Linux does not hand it
 * to init: it is read from /proc/cmdline).
 *
 * Run as a normal process (pid != 1) it mounts nothing and does not power
 * off, so the same binary can be tried on the host.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define GUEST_DEFAULT_MINTIME_MS 100
#define GUEST_MAX_ITERATIONS     1000000000ull
#define GUEST_WARMUP_ROUNDS      64

/* Ping-pong states of the shared futex word. */
#define BALL_WITH_MAIN    0
#define BALL_WITH_PARTNER 1
#define BALL_STOP         2

typedef struct _GUEST_PINGPONG {
    _Atomic int Word;
    int PartnerCpu;
    int PartnerError; /* errno of a failed pin, read after the join */
} GUEST_PINGPONG;

typedef struct _GUEST_SAMPLE {
    uint64_t Iterations;
    double RealNs; /* wall time of the whole batch */
    double CpuNs;  /* CPU time of the measuring thread during the batch */
} GUEST_SAMPLE;

/* One batch of a measure: runs Iterations rounds, fills the sample, returns
 * NULL or an error message. */
typedef const char *(*GUEST_BATCH)(void *Context, uint64_t Iterations, GUEST_SAMPLE *Sample);

static double GuestMinTimeNs = GUEST_DEFAULT_MINTIME_MS * 1e6;

/* Console output goes straight to write(2): stdio buffering could hold
 * lines back when the machine powers off. */
static void GuestPrint(const char *Format, ...)
{
    char Line[512];
    va_list Args;

    va_start(Args, Format);
    int Length = vsnprintf(Line, sizeof(Line) - 1, Format, Args);
    va_end(Args);
    if (Length < 0) {
        return;
    }
    if ((size_t)Length > sizeof(Line) - 2) {
        Length = sizeof(Line) - 2;
    }
    Line[Length++] = '\n';
    for (int Done = 0; Done < Length;) {
        ssize_t Written = write(STDOUT_FILENO, Line + Done, Length - Done);
        if (Written <= 0) {
            if (Written < 0 && errno == EINTR) {
                continue;
            }
            return;
        }
        Done += Written;
    }
}

static double GuestClockNs(clockid_t Clock)
{
    struct timespec Now;

    clock_gettime(Clock, &Now);
    return Now.tv_sec * 1e9 + Now.tv_nsec;
}

static long GuestFutex(_Atomic int *Word, int Operation, int Value)
{
    return syscall(SYS_futex, (int *)Word, Operation | FUTEX_PRIVATE_FLAG, Value, NULL, NULL, 0);
}

/* Sleeps while *Word still holds Value; returns what it holds then. */
static int GuestWaitWhile(_Atomic int *Word, int Value)
{
    int Seen;

    while ((Seen = atomic_load_explicit(Word, memory_order_acquire)) == Value) {
        GuestFutex(Word, FUTEX_WAIT, Value);
    }
    return Seen;
}

static void GuestHandOver(_Atomic int *Word, int Value)
{
    atomic_store_explicit(Word, Value, memory_order_release);
    GuestFutex(Word, FUTEX_WAKE, 1);
}

static int GuestPinSelf(int Cpu)
{
    cpu_set_t Set;

    CPU_ZERO(&Set);
    CPU_SET(Cpu, &Set);
    return sched_setaffinity(0, sizeof(Set), &Set) == 0 ? 0 : errno;
}

/* The partner returns the ball until it is told to stop. It always wakes
 * (no waiter bookkeeping), like the host's futex ping-pong peer. */
static void *GuestPartner(void *Argument)
{
    GUEST_PINGPONG *Game = Argument;

    Game->PartnerError = GuestPinSelf(Game->PartnerCpu);
    for (;;) {
        if (GuestWaitWhile(&Game->Word, BALL_WITH_MAIN) == BALL_STOP) {
            break;
        }
        GuestHandOver(&Game->Word, BALL_WITH_MAIN);
    }
    return NULL;
}

static void GuestRounds(GUEST_PINGPONG *Game, uint64_t Rounds)
{
    for (uint64_t i = 0; i < Rounds; i++) {
        GuestHandOver(&Game->Word, BALL_WITH_PARTNER);
        GuestWaitWhile(&Game->Word, BALL_WITH_PARTNER);
    }
}

static const char *GuestPingPongBatch(void *Context, uint64_t Iterations, GUEST_SAMPLE *Sample)
{
    GUEST_PINGPONG *Game = Context;
    double Real = GuestClockNs(CLOCK_MONOTONIC);
    double Cpu = GuestClockNs(CLOCK_THREAD_CPUTIME_ID);

    GuestRounds(Game, Iterations);
    Sample->CpuNs = GuestClockNs(CLOCK_THREAD_CPUTIME_ID) - Cpu;
    Sample->RealNs = GuestClockNs(CLOCK_MONOTONIC) - Real;
    Sample->Iterations = Iterations;
    return NULL;
}

static void *GuestEmptyThread(void *Argument)
{
    return Argument;
}

static const char *GuestThreadBatch(void *Context, uint64_t Iterations, GUEST_SAMPLE *Sample)
{
    double Real = GuestClockNs(CLOCK_MONOTONIC);
    double Cpu = GuestClockNs(CLOCK_THREAD_CPUTIME_ID);

    for (uint64_t i = 0; i < Iterations; i++) {
        pthread_t Thread;
        if (pthread_create(&Thread, NULL, GuestEmptyThread, NULL) != 0) {
            return "pthread_create failed";
        }
        pthread_join(Thread, NULL);
    }
    Sample->CpuNs = GuestClockNs(CLOCK_THREAD_CPUTIME_ID) - Cpu;
    Sample->RealNs = GuestClockNs(CLOCK_MONOTONIC) - Real;
    Sample->Iterations = Iterations;
    return NULL;
}

static void GuestReportError(const char *Name, const char *Message)
{
    GuestPrint("kbench: {\"name\": \"%s\", \"iterations\": 0, \"real_time\": 0, \"cpu_time\": 0, "
               "\"time_unit\": \"ns\", \"error_occurred\": true, \"error_message\": \"%s\"}",
               Name, Message);
}

/* Google Benchmark's way of sizing a run: grow the batch until one batch
 * lasts the minimum time, and report that batch. */
static void GuestMeasure(const char *Name, GUEST_BATCH Batch, void *Context)
{
    uint64_t Iterations = 1;
    GUEST_SAMPLE Sample;

    for (;;) {
        const char *Error = Batch(Context, Iterations, &Sample);
        if (Error != NULL) {
            GuestReportError(Name, Error);
            return;
        }
        if (Sample.RealNs >= GuestMinTimeNs || Iterations >= GUEST_MAX_ITERATIONS) {
            break;
        }
        /* Aim 40% past the minimum; a batch under a tenth of it is too
         * short to predict from, so it only grows tenfold. */
        double Factor = 10.0;
        if (Sample.RealNs > GuestMinTimeNs / 10) {
            Factor = GuestMinTimeNs * 1.4 / Sample.RealNs;
        }
        uint64_t Next = (uint64_t)(Iterations * Factor) + 1;
        Iterations = Next < GUEST_MAX_ITERATIONS ? Next : GUEST_MAX_ITERATIONS;
    }
    GuestPrint("kbench: {\"name\": \"%s\", \"iterations\": %llu, \"real_time\": %.3f, "
               "\"cpu_time\": %.3f, \"time_unit\": \"ns\"}",
               Name, (unsigned long long)Sample.Iterations, Sample.RealNs / Sample.Iterations,
               Sample.CpuNs / Sample.Iterations);
}

static void GuestPingPong(const char *Name, int PartnerCpu)
{
    GUEST_PINGPONG Game = { .Word = BALL_WITH_MAIN, .PartnerCpu = PartnerCpu };
    pthread_t Partner;
    int Status;

    Status = GuestPinSelf(0);
    if (Status != 0) {
        GuestReportError(Name, strerror(Status));
        return;
    }
    if (pthread_create(&Partner, NULL, GuestPartner, &Game) != 0) {
        GuestReportError(Name, "pthread_create failed");
        return;
    }
    /* A few rounds first: the partner reaches its processor, and both
     * threads' stacks and the futex hash bucket are warm. */
    GuestRounds(&Game, GUEST_WARMUP_ROUNDS);
    if (Game.PartnerError == 0) {
        GuestMeasure(Name, GuestPingPongBatch, &Game);
    }
    GuestHandOver(&Game.Word, BALL_STOP);
    pthread_join(Partner, NULL);
    if (Game.PartnerError != 0) {
        char Message[96];
        snprintf(Message, sizeof(Message), "cannot pin the partner to CPU %d: %s", PartnerCpu,
                 strerror(Game.PartnerError));
        GuestReportError(Name, Message);
    }
}

/* keelbench.mintime_ms=N from the kernel command line (or from the
 * environment as KEELBENCH_MINTIME_MS when run by hand). */
static void GuestReadMinTime(void)
{
    const char *Key = "keelbench.mintime_ms=";
    char Line[4096] = "";
    const char *Value = getenv("KEELBENCH_MINTIME_MS");

    if (Value == NULL) {
        int File = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
        if (File >= 0) {
            ssize_t Length = read(File, Line, sizeof(Line) - 1);
            Line[Length > 0 ? Length : 0] = '\0';
            close(File);
        }
        for (char *At = strstr(Line, Key); At != NULL; At = strstr(At + 1, Key)) {
            if (At == Line || At[-1] == ' ') {
                Value = At + strlen(Key);
                break;
            }
        }
    }
    if (Value != NULL) {
        char *End;
        double Milliseconds = strtod(Value, &End);
        if (End != Value && Milliseconds > 0) {
            GuestMinTimeNs = Milliseconds * 1e6;
        }
    }
}

int main(void)
{
    /* First thing: how long the kernel took to reach user space, counted
     * from its timekeeping start (firmware and decompression precede it;
     * the host-observed figure covers those). */
    double BootMs = GuestClockNs(CLOCK_BOOTTIME) / 1e6;
    int IsInit = getpid() == 1;
    struct utsname Uname;

    GuestPrint("kbench: init %.3f ms", BootMs);
    if (IsInit) {
        mkdir("/proc", 0555);
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
            GuestPrint("kbench: cannot mount /proc: %s", strerror(errno));
        }
    }
    GuestReadMinTime();
    uname(&Uname);
    GuestPrint("kbench: context {\"kernel\": \"%s\", \"cpus\": %ld, \"mintime_ms\": %.1f}",
               Uname.release, sysconf(_SC_NPROCESSORS_ONLN), GuestMinTimeNs / 1e6);
    GuestPrint("kbench: {\"name\": \"guest_boot/ready\", \"iterations\": 1, \"real_time\": %.3f, "
               "\"cpu_time\": %.3f, \"time_unit\": \"ms\"}",
               BootMs, BootMs);

    GuestPingPong("guest_pingpong/cross:0", 0);
    GuestPingPong("guest_pingpong/cross:1", 1);
    /* Created threads inherit the CPU 0 pin: create, run, exit and join on
     * one processor, like Keel's thread create+exit. */
    GuestMeasure("guest_thread_create_exit", GuestThreadBatch, NULL);
    GuestPrint("kbench: done");

    if (IsInit) {
        sync();
        reboot(RB_POWER_OFF);
        /* Still here: init exiting panics the kernel, and panic=-1 with
         * QEMU's -no-reboot ends the machine anyway. */
        GuestPrint("kbench: power off failed: %s", strerror(errno));
        return 1;
    }
    return 0;
}
