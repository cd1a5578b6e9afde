/* The USB one-touch step at boot (docs/protocol.md section 6, "Consumption"; docs/architecture.md
 * "Device emulator"): `pskprov device run --usb FILE` and `pskprov device usb-boot`.
 *
 * A device whose MEBx password is still the factory default ("admin", so Pre-Setup)
 * takes the first record of FILE whose RecordType is 1 and whose valid bit is set,
 * provided the record's current password (1/1) is "admin": it stores the new MEBx
 * password (1/2), the PID and PPS (2/1, 2/2), the server address (2/17 IPv4 or 2/4 FQDN,
 * 2/18 port, 9971 when absent) and the host and domain names (2/11, 2/12) when present,
 * and becomes In-Setup. Unless the header says do-not-consume, the record's valid bit is
 * then cleared and DataRecordsConsumed incremented, in place and durably.
 *
 * Order and crashes. The device is written first (pp_amt_usb_apply: atomic and durable),
 * the file second (pp_usb_consume_next: the valid bit, fsync, then the count). A key is
 * never lost:
 *   - a crash before the device file is renamed into place changes nothing: the device
 *     is still factory-new and the record still valid; the next boot starts over;
 *   - a crash after the device is saved but before the valid bit is durable leaves the
 *     device In-Setup with the record's key while the record is still valid. The next
 *     boot of this device with the file finds that the first valid record is the one it
 *     holds (same PID, PPS and MEBx password) and only marks it used (outcome FINISHED):
 *     it never takes a second record. Until then the record is still offered: if the
 *     file is moved to another factory-new machine first, that machine takes the same
 *     key, and the server sees one PID from two UUIDs and quarantines the second (a
 *     loud failure, in the audit log, not a silent one);
 *   - a crash between the valid bit and the count leaves the count one behind, which
 *     readers accept and note (the valid bit is authoritative).
 * The other order (consume, then apply) would lose the record on a crash in between:
 * used up in the file, never held by any device, visible only as "consumed but never
 * heard from" in `usb reconcile`.
 *
 * Device boots that share one file are serialised by an open-file-description lock on
 * the file (F_OFD_SETLK, waited for at most PP_USB_BOOT_LOCK_WAIT_MS), held from the
 * first read to the consumption; pp_usb_consume_next's own flock is independent of it
 * on local file systems. The record consumed is checked to be the one applied.
 *
 * Every refusal leaves the file byte for byte as it was and the device's state and keys
 * unchanged (lib/firmware may keep an audit event of it in memory, saved with the device), with
 * one line in err: "'FILE' is not a valid setup.bin: <why>" (corrupted), "no unused
 * record left in 'FILE'" (exhausted, -PP_ENOTFOUND), "... the record's current MEBx
 * password does not match this device" (-PP_EPERM), "... the device's MEBx password is
 * no longer the factory default ..." (a Pre-Setup device changed at the console,
 * -PP_ESTATE). A device that already has a key (In-Setup or Post-Setup) leaves the file
 * alone (outcome IGNORED), except that an In-Setup device finishes its own interrupted
 * boot as above. A Post-Setup device never opens the file.
 *
 * Nothing here logs: the caller prints the result. Never a secret in err or res. */
#ifndef PSKPROV_DEVICE_USB_BOOT_H
#define PSKPROV_DEVICE_USB_BOOT_H

#include <stdbool.h>
#include <stdint.h>

#include "firmware/device.h"
#include "core/err.h"
#include "keys/keys.h"

#define PP_USB_BOOT_LOCK_WAIT_MS 5000 /* another device booting from the same file */

enum pp_usb_boot_outcome {
	PP_USB_BOOT_APPLIED = 1, /* record taken: device In-Setup, record marked used */
	PP_USB_BOOT_KEPT,        /* do-not-consume file: record taken, file unchanged */
	PP_USB_BOOT_FINISHED,    /* the device already held the record (a boot cut short
				    after the device was saved): the record is marked used now */
	PP_USB_BOOT_UNMARKED,    /* record taken, but marking it used failed (warning): it
				    stays valid until this device boots with the file again */
	PP_USB_BOOT_IGNORED,     /* the device already has a key: file not used, unchanged */
};

struct pp_usb_boot_result {
	enum pp_usb_boot_outcome outcome;
	uint32_t record;       /* RecordNumber taken (1-based); 0 when IGNORED */
	char pid[PP_PID_TEXT]; /* the record's PID, "" when none */
	bool has_server;       /* the record named a configuration server */
	char server[300];      /* "a.b.c.d:port" or "fqdn:port" when has_server */
	char note[256];        /* why IGNORED or UNMARKED; "" otherwise */
};

/* Runs the boot step for dev (loaded from its state directory) and the setup file at
 * path. Returns 0 with *res filled, or a negative -PP_E* refusal with err set and
 * nothing changed. */
int pp_usb_boot(struct pp_amt_device *dev, const char *path, struct pp_usb_boot_result *res,
		struct pp_err *err) PP_WUR;

/* "applied", "kept", "finished", "unmarked", "ignored". */
const char *pp_usb_boot_outcome_name(enum pp_usb_boot_outcome o);

#endif
