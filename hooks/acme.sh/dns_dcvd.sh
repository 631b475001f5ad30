#!/usr/bin/env sh
# shellcheck disable=SC2034
dns_dcvd_info='dcvd - publish through any dcvd DNS backend and wait for every authoritative server
Site: github.com/dcvd/dcvd
Options:
 DCVD_BIN Path of the dcvd binary. Default "dcvd" (from PATH)
 DCVD_CONFIG dcvd config file. Default /etc/dcvd/config.toml
Issues: github.com/dcvd/dcvd/issues
'

# acme.sh dnsapi for dcvd. Install: copy this file to ~/.acme.sh/dnsapi/
# (or acme.sh/dnsapi/) and run
#
#   acme.sh --issue --dns dns_dcvd -d example.com -d '*.example.com'
#
# dcvd adds the TXT value next to any other value at the name (apex and
# wildcard share _acme-challenge.example.com), blocks until every
# authoritative server serves it, and removes exactly that value in
# dns_dcvd_rm. acme.sh may then skip its own public-resolver check
# (--dnssleep 0 is safe with dcvd).

# Usage: dns_dcvd_add _acme-challenge.www.domain.com "XKrxpRBosdIKFzxW_CT3KLZNf6q0HG9i01zxXp5CPBs"
dns_dcvd_add() {
  fulldomain=$1
  txtvalue=$2
  _dcvd_load || return 1
  _info "dcvd: adding $fulldomain"
  if ! _dcvd_run add -- "$fulldomain" "$txtvalue"; then
    _err "dcvd: could not publish $fulldomain (see the line above)"
    return 1
  fi
  return 0
}

# Usage: dns_dcvd_rm _acme-challenge.www.domain.com "XKrxpRBosdIKFzxW_CT3KLZNf6q0HG9i01zxXp5CPBs"
dns_dcvd_rm() {
  fulldomain=$1
  txtvalue=$2
  _dcvd_load || return 1
  _info "dcvd: removing $fulldomain"
  if ! _dcvd_run remove -- "$fulldomain" "$txtvalue"; then
    _err "dcvd: could not remove $fulldomain"
    return 1
  fi
  return 0
}

####################  Private functions below ##################################

# _dcvd_load reads DCVD_BIN and DCVD_CONFIG from the environment or from the
# account config, and saves them for renewals.
_dcvd_load() {
  if command -v _readaccountconf_mutable >/dev/null 2>&1; then
    DCVD_BIN="${DCVD_BIN:-$(_readaccountconf_mutable DCVD_BIN)}"
    DCVD_CONFIG="${DCVD_CONFIG:-$(_readaccountconf_mutable DCVD_CONFIG)}"
  fi
  DCVD_BIN="${DCVD_BIN:-dcvd}"
  if ! command -v "$DCVD_BIN" >/dev/null 2>&1; then
    _err "dcvd: binary '$DCVD_BIN' not found; set DCVD_BIN to its path"
    return 1
  fi
  if command -v _saveaccountconf_mutable >/dev/null 2>&1; then
    _saveaccountconf_mutable DCVD_BIN "$DCVD_BIN"
    if [ -n "$DCVD_CONFIG" ]; then
      _saveaccountconf_mutable DCVD_CONFIG "$DCVD_CONFIG"
    fi
  fi
  return 0
}

# _dcvd_run runs `dcvd hook ARGS...` with the configured config file.
_dcvd_run() {
  if [ -n "$DCVD_CONFIG" ]; then
    DCVD_CONFIG="$DCVD_CONFIG" "$DCVD_BIN" hook "$@"
  else
    "$DCVD_BIN" hook "$@"
  fi
}
