/*
 * host_bugcheck.c - ktest_hosted --bugcheck: runs each KTEST_BUGCHECK case
 * in its own child process and reports KTAP. A passing case ends the
 * system it runs in, so every case needs a fresh one.
 *
 * Choice: the parent never initializes the hosted kernel (it stays a
 * single-threaded process that only lists, spawns and parses), and each
 * child is fork + exec of this same binary with "--bugcheck-one NAME": a
 * fresh process image, so no host thread, lock or sanitizer state of the
 * parent leaks into the child. The child's stdout and stderr go to a pipe;
 * the hosted KeBugCheckEx prints the stop screen ("*** STOP: 0x%08X
 * (P1,P2,P3,P4)") and exits with HAL_EXIT_BUGCHECK. A case passes when
 * both are seen and the code (and P1 when the case asks) match; it fails
 * when the child returns without a stop (exit HAL_EXIT_TEST_FAILED), stops
 * with another code, dies otherwise (a signal, a sanitizer report) or runs
 * past the timeout. A child that KT_SKIPs prints "ktest: SKIP reason" and
 * exits HAL_EXIT_SUCCESS.
 *
 * Host program code (POSIX), built into ktest_hosted only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ntddk.h>
#include <hal.h>
#include <ktest.h>

#define KT_CHILD_TIMEOUT_MS 30000
#define KT_OUTPUT_MAX       (256 * 1024)

typedef struct _KT_CHILD {
    char *Output;
    size_t Length;
    int Status; /* waitpid status, or -1 after a timeout */
} KT_CHILD;

static long long KtNowMs(void)
{
    struct timespec Now;
    clock_gettime(CLOCK_MONOTONIC, &Now);
    return (long long)Now.tv_sec * 1000 + Now.tv_nsec / 1000000;
}

static void KtRunChild(const char *Self, const char *Processors, const char *Name, KT_CHILD *Child)
{
    int Pipe[2];
    pid_t Pid;
    long long Deadline = KtNowMs() + KT_CHILD_TIMEOUT_MS;
    BOOLEAN TimedOut = FALSE;

    Child->Output = calloc(1, KT_OUTPUT_MAX + 1);
    Child->Length = 0;
    Child->Status = -1;
    if (Child->Output == NULL || pipe2(Pipe, O_CLOEXEC) != 0) {
        return;
    }
    fflush(NULL);
    Pid = fork();
    if (Pid == 0) {
        dup2(Pipe[1], STDOUT_FILENO);
        dup2(Pipe[1], STDERR_FILENO);
        execl(Self, Self, "--processors", Processors, "--bugcheck-one", Name, (char *)NULL);
        _exit(127);
    }
    close(Pipe[1]);
    if (Pid < 0) {
        close(Pipe[0]);
        return;
    }
    for (;;) {
        struct pollfd Poll = { .fd = Pipe[0], .events = POLLIN };
        long long Left = Deadline - KtNowMs();
        ssize_t Got;
        char Discard[4096];

        if (Left <= 0) {
            TimedOut = TRUE;
            kill(Pid, SIGKILL);
            break;
        }
        if (poll(&Poll, 1, (int)Left) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (Child->Length < KT_OUTPUT_MAX) {
            Got = read(Pipe[0], Child->Output + Child->Length, KT_OUTPUT_MAX - Child->Length);
        } else {
            Got = read(Pipe[0], Discard, sizeof(Discard)); /* keep the child unblocked */
            if (Got > 0) {
                continue;
            }
        }
        if (Got < 0 && errno == EINTR) {
            continue;
        }
        if (Got <= 0) {
            break; /* end of file: the child (and its threads) closed the pipe */
        }
        Child->Length += (size_t)Got;
    }
    close(Pipe[0]);
    while (waitpid(Pid, &Child->Status, 0) < 0 && errno == EINTR) {
    }
    if (TimedOut) {
        Child->Status = -1;
    }
    Child->Output[Child->Length] = '\0';
}

/* The first "*** STOP: 0x%08X (0x..,0x..,0x..,0x..)" line. */
static BOOLEAN KtParseStop(const char *Output, ULONG *Code, ULONG_PTR Parameters[4])
{
    const char *Line = strstr(Output, "*** STOP: 0x");
    char *End;

    if (Line == NULL) {
        return FALSE;
    }
    *Code = (ULONG)strtoul(Line + 12, &End, 16);
    if (*End != ' ' || End[1] != '(') {
        return FALSE;
    }
    End += 2;
    for (int i = 0; i < 4; i++) {
        Parameters[i] = (ULONG_PTR)strtoull(End, &End, 16);
        if (*End != (i == 3 ? ')' : ',')) {
            return FALSE;
        }
        End++;
    }
    return TRUE;
}

/* The last lines of the child's output as KTAP diagnostics. */
static void KtPrintTail(const char *Output, int Lines)
{
    const char *Start = Output + strlen(Output);

    while (Start > Output && Lines > 0) {
        Start--;
        if (*Start == '\n' && Start[1] != '\0') {
            Lines--;
        }
    }
    while (*Start != '\0') {
        const char *End = strchr(Start, '\n');
        int Length = End != NULL ? (int)(End - Start) : (int)strlen(Start);
        if (Length > 0 || *Start != '\n') {
            printf("    # | %.*s\n", Length, Start);
        }
        Start += Length + (End != NULL ? 1 : 0);
    }
}

/* Judges one child: prints the KTAP result line, returns TRUE unless it
 * failed. */
static BOOLEAN KtJudge(const KTEST_BUGCHECK_CASE *Case, ULONG Number, KT_CHILD *Child)
{
    ULONG Code = 0;
    ULONG_PTR P[4] = { 0 };
    BOOLEAN Stopped = KtParseStop(Child->Output, &Code, P);
    int Exit = (Child->Status >= 0 && WIFEXITED(Child->Status)) ? WEXITSTATUS(Child->Status) : -1;
    const char *Skip = strstr(Child->Output, "ktest: SKIP ");
    char Why[200];

    if (Exit == HAL_EXIT_SUCCESS && !Stopped && Skip != NULL) {
        const char *End = strchr(Skip, '\n');
        printf("    ok %u %s # SKIP %.*s\n", Number, Case->Case.Name,
               (int)(End != NULL ? End - (Skip + 12) : (long)strlen(Skip + 12)), Skip + 12);
        return TRUE;
    }
    if (Child->Status == -1 && Child->Output != NULL && Child->Length == 0 && !Stopped) {
        snprintf(Why, sizeof(Why), "the child could not be started or timed out");
    } else if (Child->Status == -1) {
        snprintf(Why, sizeof(Why), "timed out after %d ms", KT_CHILD_TIMEOUT_MS);
    } else if (!Stopped) {
        if (WIFSIGNALED(Child->Status)) {
            snprintf(Why, sizeof(Why), "no stop screen; the child died of signal %d",
                     WTERMSIG(Child->Status));
        } else {
            snprintf(Why, sizeof(Why), "no stop screen; the child exited with 0x%x%s", Exit,
                     Exit == HAL_EXIT_TEST_FAILED ? " (the misuse went undetected)" : "");
        }
    } else if (Code != Case->Code) {
        snprintf(Why, sizeof(Why), "stopped with 0x%08X, expected 0x%08X", Code, Case->Code);
    } else if ((Case->Flags & KTEST_BUGCHECK_CHECK_P1) && P[0] != Case->Parameter1) {
        snprintf(Why, sizeof(Why), "stopped with 0x%08X but P1 0x%llX, expected P1 0x%llX", Code,
                 (unsigned long long)P[0], (unsigned long long)Case->Parameter1);
    } else if (Exit != HAL_EXIT_BUGCHECK) {
        snprintf(Why, sizeof(Why), "stop screen shown but the child exited with %d (status 0x%x)",
                 Exit, Child->Status);
    } else {
        printf("    ok %u %s\n", Number, Case->Case.Name);
        return TRUE;
    }
    printf("    # %s: %s\n", Case->Case.Name, Why);
    KtPrintTail(Child->Output, 25);
    printf("    not ok %u %s\n", Number, Case->Case.Name);
    return FALSE;
}

static BOOLEAN KtFirstOfSuite(ULONG Index)
{
    for (ULONG i = 0; i < Index; i++) {
        if (KtestStringsEqual(KtestBugCheckGet(i)->Case.Suite,
                              KtestBugCheckGet(Index)->Case.Suite)) {
            return FALSE;
        }
    }
    return TRUE;
}

static ULONG KtSuiteCount(const char *Filter, const char *Suite)
{
    ULONG Count = 0;
    for (ULONG i = 0; i < KtestBugCheckCount(); i++) {
        const KTEST_BUGCHECK_CASE *Case = KtestBugCheckGet(i);
        Count += KtestStringsEqual(Case->Case.Suite, Suite) && KtestSelected(Filter, &Case->Case);
    }
    return Count;
}

int KtHostRunBugChecks(const char *Self, ULONG Processors, const char *Filter)
{
    ULONG Suites = 0, SuiteNumber = 0, Failed = 0;
    char ProcessorText[16];

    snprintf(ProcessorText, sizeof(ProcessorText), "%u", Processors);
    for (ULONG i = 0; i < KtestBugCheckCount(); i++) {
        Suites += KtFirstOfSuite(i) && KtSuiteCount(Filter, KtestBugCheckGet(i)->Case.Suite) != 0;
    }
    printf("KTAP version 1\n1..%u\n", Suites);
    for (ULONG i = 0; i < KtestBugCheckCount(); i++) {
        const char *Suite = KtestBugCheckGet(i)->Case.Suite;
        ULONG Count = KtSuiteCount(Filter, Suite), Number = 0, SuiteFailed = 0;

        if (!KtFirstOfSuite(i) || Count == 0) {
            continue;
        }
        SuiteNumber++;
        printf("    KTAP version 1\n    # Subtest: %s\n    1..%u\n", Suite, Count);
        for (ULONG j = i; j < KtestBugCheckCount(); j++) {
            const KTEST_BUGCHECK_CASE *Case = KtestBugCheckGet(j);
            char Name[128];
            KT_CHILD Child;

            if (!KtestStringsEqual(Case->Case.Suite, Suite) ||
                !KtestSelected(Filter, &Case->Case)) {
                continue;
            }
            snprintf(Name, sizeof(Name), "%s.%s", Case->Case.Suite, Case->Case.Name);
            KtRunChild(Self, ProcessorText, Name, &Child);
            SuiteFailed += !KtJudge(Case, ++Number, &Child);
            free(Child.Output);
            fflush(stdout);
        }
        printf("%s %u %s\n", SuiteFailed != 0 ? "not ok" : "ok", SuiteNumber, Suite);
        Failed += SuiteFailed;
    }
    fflush(stdout);
    return Failed == 0 ? 0 : 1;
}
