/* SPDX-License-Identifier: Apache-2.0 */
/* Exits with the status given as argv[1] ("exit" via exit(), "_exit" via _exit). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int code = argc > 1 ? atoi(argv[1]) : 0;
    if (argc > 2 && strcmp(argv[2], "_exit") == 0)
        _exit(code);
    exit(code);
}
