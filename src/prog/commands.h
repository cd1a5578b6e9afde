#ifndef PSKPROV_COMMANDS_H
#define PSKPROV_COMMANDS_H

#include "prog/cli.h"

int cmd_init(struct pp_cli *cli, int argc, char **argv);
int cmd_keys(struct pp_cli *cli, int argc, char **argv);
int cmd_usb(struct pp_cli *cli, int argc, char **argv);
int cmd_audit(struct pp_cli *cli, int argc, char **argv);
int cmd_device(struct pp_cli *cli, int argc, char **argv);
int cmd_fleet(struct pp_cli *cli, int argc, char **argv);
int cmd_server(struct pp_cli *cli, int argc, char **argv);
int cmd_devices(struct pp_cli *cli, int argc, char **argv);
int cmd_jobs(struct pp_cli *cli, int argc, char **argv);
int cmd_status(struct pp_cli *cli, int argc, char **argv);
int cmd_demo(struct pp_cli *cli, int argc, char **argv);
int cmd_agent(struct pp_cli *cli, int argc, char **argv);
int cmd_token(struct pp_cli *cli, int argc, char **argv);
int cmd_backup(struct pp_cli *cli, int argc, char **argv);
int cmd_restore(struct pp_cli *cli, int argc, char **argv);
int cmd_master_key(struct pp_cli *cli, int argc, char **argv);

#endif
