/* `pskprov device mebx`: the emulated firmware's keyboard console (docs/architecture.md "Device
 * emulator": one of the three ways a Pre-Setup device gets its key; issue "Console").
 *
 * Session: log in with the MEBx password ("admin" on a new device; 3 tries); on first
 * login a forced change to a strong password (pp_mebx_password_check, asked twice; 3
 * tries); then a menu:
 *   1) PID and PPS      dashes optional, each checked as it is entered (a checksum error
 *                       names the group and the symbol expected); the PPS without echo.
 *   2) server           IPv4 address or FQDN, and port.
 *   3) show the state   state, UUID, PID, server; never a secret.
 *   4) unprovision      full (back to Pre-Setup and the factory password), confirmed.
 *   5) exit
 * Passwords and the PPS are read without echo from a terminal, as plain lines from a
 * pipe. Prompts and messages go to the message stream (stderr), the state display to
 * the data stream (stdout). Every change is saved atomically by lib/firmware before the
 * console says it is done.
 *
 * Scripted input (not a terminal) must be exact: lines are consumed in a fixed order,
 * so the first refused menu entry ends the session (exit 1) rather than let the next
 * line, perhaps a PPS, be read as something else. A terminal user is asked again.
 * Entered text is never repeated in a message. */
#ifndef PSKPROV_DEVICE_MEBX_H
#define PSKPROV_DEVICE_MEBX_H

#include <stdbool.h>
#include <stdio.h>

#include "firmware/device.h"
#include "prog/cli.h"

#define PP_MEBX_LOGIN_TRIES 3
#define PP_MEBX_CHANGE_TRIES 3
#define PP_MEBX_ENTRY_TRIES 3 /* a PID, PPS or address at a terminal */
#define PP_MEBX_LINE_MAX 256

/* `pskprov device mebx --state DIR [--create]`: the entry for the device command's
 * table ({"mebx", pp_device_mebx, ...} in src/device/cmd_device.c). */
int pp_device_mebx(struct pp_cli *cli, int argc, char **argv);

/* One console session on a loaded device. in: the keyboard (a terminal or a pipe);
 * out: prompts and messages; data: the state display. Returns PP_EXIT_OK after
 * "exit" (or the end of input at the menu) and PP_EXIT_FAIL when the session was
 * refused (wrong password 3 times, input ended early, a scripted entry refused, a
 * save failed). */
int pp_mebx_console(struct pp_amt_device *dev, FILE *in, FILE *out, FILE *data);

#endif
