/* The Intel AMT class subset pskprov speaks (docs/protocol.md section 4): resource URIs,
 * method and property names, and the status codes methods return in ReturnValue. */
#ifndef PSKPROV_WSMAN_AMT_H
#define PSKPROV_WSMAN_AMT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

#define PP_AMT_SCHEMA "http://intel.com/wbem/wscim/1/amt-schema/1/"
#define PP_CIM_SCHEMA "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"

/* Class names, then their resource URIs. */
#define PP_AMT_GENERAL_SETTINGS "AMT_GeneralSettings"
#define PP_AMT_SETUP_AND_CONFIGURATION_SERVICE "AMT_SetupAndConfigurationService"
#define PP_AMT_AUTHORIZATION_SERVICE "AMT_AuthorizationService"
#define PP_AMT_TIME_SYNCHRONIZATION_SERVICE "AMT_TimeSynchronizationService"
#define PP_CIM_SOFTWARE_IDENTITY "CIM_SoftwareIdentity"
#define PP_AMT_ETHERNET_PORT_SETTINGS "AMT_EthernetPortSettings"
#define PP_CIM_COMPUTER_SYSTEM_PACKAGE "CIM_ComputerSystemPackage"

#define PP_AMT_URI_GENERAL_SETTINGS PP_AMT_SCHEMA PP_AMT_GENERAL_SETTINGS
#define PP_AMT_URI_SETUP_AND_CONFIGURATION_SERVICE                                                 \
	PP_AMT_SCHEMA PP_AMT_SETUP_AND_CONFIGURATION_SERVICE
#define PP_AMT_URI_AUTHORIZATION_SERVICE PP_AMT_SCHEMA PP_AMT_AUTHORIZATION_SERVICE
#define PP_AMT_URI_TIME_SYNCHRONIZATION_SERVICE PP_AMT_SCHEMA PP_AMT_TIME_SYNCHRONIZATION_SERVICE
#define PP_CIM_URI_SOFTWARE_IDENTITY PP_CIM_SCHEMA PP_CIM_SOFTWARE_IDENTITY
#define PP_AMT_URI_ETHERNET_PORT_SETTINGS PP_AMT_SCHEMA PP_AMT_ETHERNET_PORT_SETTINGS
#define PP_CIM_URI_COMPUTER_SYSTEM_PACKAGE PP_CIM_SCHEMA PP_CIM_COMPUTER_SYSTEM_PACKAGE

/* Methods (Action = <resource URI>/<method>). */
#define PP_AMT_SET_MEBX_PASSWORD "SetMEBxPassword"         /* (Password) */
#define PP_AMT_SET_TLS_PSK "SetTLSPSK"                     /* (PID, PPS), base64 */
#define PP_AMT_COMMIT_CHANGES "CommitChanges"              /* () */
#define PP_AMT_UNPROVISION "Unprovision"                   /* (ProvisioningMode) */
#define PP_AMT_GET_UUID "GetUuid"                          /* () -> UUID (base64, SMBIOS) */
#define PP_AMT_SET_ADMIN_ACL_ENTRY_EX "SetAdminAclEntryEx" /* (Username, DigestPassword) */
#define PP_AMT_GET_LOW_ACCURACY_TIME_SYNCH "GetLowAccuracyTimeSynch"   /* () -> Ta0 */
#define PP_AMT_SET_HIGH_ACCURACY_TIME_SYNCH "SetHighAccuracyTimeSynch" /* (Ta0, Tm1, Tm2) */

/* Property and parameter names. */
#define PP_AMT_P_DIGEST_REALM "DigestRealm"
#define PP_AMT_P_HOST_NAME "HostName"
#define PP_AMT_P_DOMAIN_NAME "DomainName"
#define PP_AMT_P_AMT_NETWORK_ENABLED "AMTNetworkEnabled"
#define PP_AMT_P_PROVISIONING_STATE "ProvisioningState"
#define PP_AMT_P_PROVISIONING_MODE "ProvisioningMode"
#define PP_AMT_P_PASSWORD "Password"
#define PP_AMT_P_PID "PID"
#define PP_AMT_P_PPS "PPS"
#define PP_AMT_P_USERNAME "Username"
#define PP_AMT_P_DIGEST_PASSWORD "DigestPassword"
#define PP_AMT_P_TA0 "Ta0"
#define PP_AMT_P_TM1 "Tm1"
#define PP_AMT_P_TM2 "Tm2"
#define PP_AMT_P_RETURN_VALUE "ReturnValue"
#define PP_AMT_P_UUID "UUID" /* GetUuid output */
#define PP_CIM_P_INSTANCE_ID "InstanceID"
#define PP_CIM_P_VERSION_STRING "VersionString"

/* ProvisioningState values. */
enum pp_amt_provisioning_state {
	PP_AMT_STATE_PRE = 0,
	PP_AMT_STATE_IN = 1,
	PP_AMT_STATE_POST = 2,
};

/* ReturnValue codes (Intel AMT status codes; 0 = success). */
#define PP_AMT_STATUS_SUCCESS 0x0u
#define PP_AMT_STATUS_INTERNAL_ERROR 0x1u
#define PP_AMT_STATUS_INVALID_PT_MODE 0x3u /* not allowed in the current state */
#define PP_AMT_STATUS_NOT_PERMITTED 0x10u
#define PP_AMT_STATUS_INVALID_PROVISIONING_STATE 0x20u
#define PP_AMT_STATUS_INVALID_TIME 0x22u
#define PP_AMT_STATUS_INVALID_PARAMETER 0x24u
#define PP_AMT_STATUS_INVALID_PID_FORMAT 0x2Au
#define PP_AMT_STATUS_INVALID_PPS_FORMAT 0x2Bu
#define PP_AMT_STATUS_INVALID_PASSWORD 0x806u
#define PP_AMT_STATUS_INVALID_REALM 0x807u
#define PP_AMT_STATUS_DATA_MISSING 0x809u

/* AMT digest realm: "Digest:" followed by 32 upper-case hex digits. */
#define PP_AMT_REALM_LEN 39
bool pp_amt_realm_valid(const char *realm);
/* Formats a realm from 16 bytes (random, or derived from the device identity). */
void pp_amt_realm_format(const uint8_t id[16], char out[PP_AMT_REALM_LEN + 1]);

#endif
