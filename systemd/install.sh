#!/usr/bin/env bash
# doorward installer for a Raspberry Pi (Raspberry Pi OS bookworm). docs/install.md walks
# through it. Idempotent: a second run with the same arguments changes nothing.
#
#   install.sh --role door|kiosk|server [--relay-pin N] [--wheel WHEEL] [--uart DEVICE] [--root DIR]
#   install.sh --upgrade WHEEL [--root DIR]
#   install.sh --uninstall [--purge] [--root DIR]
#
# --relay-pin  the BCM pin of the door's lock relay driver (docs/wiring.md): written into a
#              new doorward.toml and the firmware's gpio= line; asked for on a terminal, and
#              required otherwise on a first door install (later runs read the config)
# --root DIR   write everything under DIR; create no user, call no systemctl (tests, images);
#              owners are set only when the service user already exists on this machine
# --wheel      install doorward from this wheel instead of the source tree around this script
# --uart       the module's serial device (default /dev/serial0); its real node goes into
#              the unit's DeviceAllow= drop-in
# --upgrade    install WHEEL into a new release, back up the state databases, run
#              `doorward migrate` (which refuses a newer schema), switch and restart; on any
#              failure the old release and the backed-up state stay in place
# --uninstall  stop and remove the unit and /opt/doorward; config, state and credentials
#              stay unless --purge
# Environment: DOORWARD_PYTHON (python for the venv, default python3), DOORWARD_PIP_ARGS
# (extra pip arguments, e.g. "--no-index --find-links /wheelhouse").
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_DIR=$(dirname "$SCRIPT_DIR")
PYTHON=${DOORWARD_PYTHON:-python3}
read -r -a PIP_ARGS <<<"${DOORWARD_PIP_ARGS:-}"
HELPERS="$SCRIPT_DIR/install_helpers.py"
MIGRATE_REFUSED=3  # `doorward migrate`: the state's schema is newer than this software

SERVICE_USER=doorward  # the units' User=; docs/install.md and docs/server.md name it too
ROLE="" ROOT="" WHEEL="" UPGRADE_WHEEL="" UART=/dev/serial0 UNINSTALL=0 PURGE=0 RELAY_PIN=""

say() { printf 'doorward install: %s\n' "$*"; }
die() { printf 'doorward install: error: %s\n' "$*" >&2; exit 1; }

usage() { sed -n '2,/^set /{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }

parse_args() {
    while [[ $# -gt 0 ]]; do
        case "$1" in
            --role) ROLE=${2:?}; shift 2 ;;
            --root) ROOT=$(realpath -m "${2:?}"); shift 2 ;;
            --wheel) WHEEL=$(realpath "${2:?}"); shift 2 ;;
            --upgrade) UPGRADE_WHEEL=$(realpath "${2:?}"); shift 2 ;;
            --uart) UART=${2:?}; shift 2 ;;
            --relay-pin) RELAY_PIN=${2:?}; shift 2 ;;
            --uninstall) UNINSTALL=1; shift ;;
            --purge) PURGE=1; shift ;;
            -h|--help) usage ;;
            *) die "unknown argument '$1' (try --help)" ;;
        esac
    done
}

set_paths() {
    OPT="$ROOT/opt/doorward"
    ETC="$ROOT/etc/doorward"
    STATE="$ROOT/var/lib/doorward"
    SERVER_KEYS="$ETC/server-keys"  # apart from the state directory, which backups copy
    BIN_LINK="$ROOT/usr/local/bin/doorward"
    UNIT_DIR="$ROOT/etc/systemd/system"
    CREDSTORE="$ROOT/etc/credstore.encrypted"
    ROLE_FILE="$OPT/role"
}

unit_for() {
    case "$1" in
        door) echo doorward.service ;;
        kiosk) echo doorward-kiosk.service ;;
        server) echo doorward-server.service ;;
        *) die "--role must be door, kiosk or server, not '$1'" ;;
    esac
}

extras_for() {  # what each role needs, and nothing more
    case "$1" in
        door) echo pi ;;        # rpi-lgpio for the relay and the inputs
        kiosk) echo kiosk ;;    # the page's web server; the kiosk drives no GPIO
        server) echo server ;;
    esac
}

# ---- small idempotent writers -------------------------------------------------------------

# install_file SRC DEST MODE: copy only when the content differs.
install_file() {
    mkdir -p "$(dirname "$2")"
    if ! cmp -s "$1" "$2"; then
        install -m "$3" "$1" "$2.doorward-new"
        mv -f "$2.doorward-new" "$2"
        say "wrote ${2#"$ROOT"}"
        CHANGED=1
    fi
}

# write_text DEST MODE: stdin to DEST, only when the content differs.
write_text() {
    local scratch
    scratch=$(mktemp)
    cat >"$scratch"
    install_file "$scratch" "$1" "$2"
    rm -f "$scratch"
}

# link_to TARGET LINK: a symlink, replaced atomically only when it points elsewhere.
link_to() {
    mkdir -p "$(dirname "$2")"
    if [[ "$(readlink "$2" 2>/dev/null)" != "$1" ]]; then
        ln -sfn "$1" "$2.doorward-new"
        mv -Tf "$2.doorward-new" "$2"
        CHANGED=1
    fi
}

systemctl_live() { if [[ -z $ROOT ]]; then systemctl "$@"; fi; }

user_exists() { id -u "$SERVICE_USER" >/dev/null 2>&1; }

# own OWNER:GROUP MODE PATH (SERVICE_USER stands for the service user): set when it differs.
# Without the service user (an image built under --root) only the mode is set; running the
# installer again on the booted system sets the owners.
own() {
    local owner=${1//SERVICE_USER/$SERVICE_USER} mode=$2 path=$3
    if user_exists; then
        if [[ $(stat -c '%U:%G %a' "$path") != "$owner ${mode#0}" ]]; then
            chown "$owner" "$path" && chmod "$mode" "$path"
            CHANGED=1
        fi
    elif [[ $(stat -c '%a' "$path") != "${mode#0}" ]]; then
        chmod "$mode" "$path"
        CHANGED=1
    fi
}

# A configuration file is readable by the service user and no one else; only root writes it.
own_config() { own "root:SERVICE_USER" 0640 "$1"; }

# state_dir DIR: the service user's alone (the units' StateDirectoryMode=0700).
state_dir() {
    mkdir -p "$1"
    own "SERVICE_USER:SERVICE_USER" 0700 "$1"
}

# ---- the user, the release, the config ----------------------------------------------------

ensure_user() {
    [[ -n $ROOT ]] && return 0  # images create users on first boot; tests create their own
    user_exists || useradd --system --user-group --home-dir /var/lib/doorward \
        --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
    [[ $ROLE == server ]] && return 0  # the server reaches no device
    local group
    for group in dialout gpio; do  # for `sudo -u doorward doorward doctor`; the unit adds them itself
        if getent group "$group" >/dev/null; then usermod -aG "$group" "$SERVICE_USER"; fi
    done
}

release_name() {  # doorward-VERSION, from the wheel's name or the source tree
    if [[ -n $1 ]]; then basename "$1" | cut -d- -f1-2
    else echo "doorward-$(sed -n 's/^version = "\(.*\)"/\1/p' "$SOURCE_DIR/pyproject.toml" | head -1)"
    fi
}

# build_release NAME SOURCE: a fresh virtual environment with doorward and the role's extras.
build_release() {
    local release="$OPT/releases/$1" source=${2:-$SOURCE_DIR}
    rm -rf "$release"
    "$PYTHON" -m venv "$release"
    "$release/bin/python" -m pip install --quiet --disable-pip-version-check \
        ${PIP_ARGS[@]+"${PIP_ARGS[@]}"} "$source[$(extras_for "$ROLE")]"
    relocate_scripts "$release"
}

# Under --root the scripts' #! lines name DIR; the running system finds them at /opt/doorward.
relocate_scripts() {
    [[ -z $ROOT ]] && return 0
    grep -lsI "^#!$ROOT/" "$1"/bin/* | while read -r script; do
        sed -i "1s|^#!$ROOT/|#!/|" "$script"
    done || true  # no script names DIR: nothing to do
}

ensure_release() {
    if [[ -e "$OPT/venv/bin/python" ]]; then
        say "already installed: $(basename "$(readlink "$OPT/venv")") (use --upgrade WHEEL to change it)"
        return 0
    fi
    local name
    name=$(release_name "$WHEEL")
    say "creating the virtual environment $name"
    build_release "$name" "$WHEEL"
    link_to "releases/$name" "$OPT/venv"
}

# The relay pin the person wired (docs/wiring.md): --relay-pin, else asked on a terminal.
# Never a default: the firmware would hold a pin the relay is not on, and leave the real one
# floating from power-on.
ask_relay_pin() {
    if [[ -z $RELAY_PIN && -t 0 ]]; then
        read -r -p "BCM GPIO pin of the lock relay driver (docs/wiring.md; 9-27 are pulled down): " RELAY_PIN
    fi
    [[ -n $RELAY_PIN ]] || die "--relay-pin N is required: the BCM pin the lock relay driver" \
        "is wired to (docs/wiring.md); the installer does not guess it"
    [[ $RELAY_PIN =~ ^[0-9]+$ ]] && (( 10#$RELAY_PIN <= 27 )) \
        || die "--relay-pin: '$RELAY_PIN' is not a BCM GPIO number (0-27)"
    RELAY_PIN=$((10#$RELAY_PIN))
}

door_config_skeleton() {
    local config="$ETC/doorward.toml" configured
    if [[ -e $config ]]; then  # the person's file: only checked against --relay-pin
        if [[ -n $RELAY_PIN ]]; then
            configured=$("$PYTHON" "$HELPERS" relay-pin "$config") \
                || die "cannot read the relay pin from ${config#"$ROOT"}"
            [[ $configured == "$RELAY_PIN" ]] || die "${config#"$ROOT"} wires the relay to pin" \
                "$configured, not $RELAY_PIN: edit [hardware.relay] pin there, then run this again"
        fi
        own_config "$config"
        return 0
    fi
    # The documented example, switched to the Pi's GPIO and to the relay pin given; the person
    # still checks the inputs' pins against the wiring (`doorward check-config`). Its
    # ca_file names a file that is not there yet: left out (the system store) until it is.
    sed -e 's/^gpio_backend = "sim".*/gpio_backend = "rpi"/' -e '/^hub_socket = /d' \
        -e 's|^ca_file = |# ca_file = |' \
        -e "/^\[hardware\.relay\]/,/^\[/ s/^pin = [0-9]*/pin = $RELAY_PIN/" \
        "$SOURCE_DIR/docs/doorward.example.toml" | write_text "$config" 0640
    own_config "$config"
}

# docs/kiosk.md: a kiosk reads [module], [server] and [storage], and has no relay.
kiosk_config_skeleton() {
    local config="$ETC/doorward.toml"
    [[ -e $config ]] || write_text "$config" 0640 <<'KIOSK'
# doorward enrolment kiosk (docs/kiosk.md): the module, the station credential, the state.
[module]
url = "/dev/serial0"
baud = 57600
model = "r503"                       # r307, r503 or as608

[server]
credential = "/etc/doorward/credential.json"   # `doorward pair` writes it

[storage]
state_dir = "/var/lib/doorward"      # module.json: the bound module's identity
KIOSK
    own_config "$config"
}

server_config_skeleton() {
    [[ -e "$ETC/server.toml" ]] || write_text "$ETC/server.toml" 0640 <<'SERVER'
# doorward server configuration; `doorward server init` creates the keys and database.
[server]
database = "/var/lib/doorward/server.db"   # `doorward server backup` copies this
keys_dir = "/etc/doorward/server-keys"      # apart from the database: back it up offline, once
host = "127.0.0.1"   # put a TLS terminator in front, or set tls_certfile/tls_keyfile
port = 8443
SERVER
    own_config "$ETC/server.toml"
    state_dir "$SERVER_KEYS"
}

config_files() {
    case "$ROLE" in
        door) door_config_skeleton ;;
        kiosk) kiosk_config_skeleton ;;
        server) server_config_skeleton ;;
    esac
    state_dir "$STATE"
}

# ---- the firmware lines and the devices -----------------------------------------------------

firmware_config() {  # bookworm: /boot/firmware/config.txt; older images: /boot/config.txt
    if [[ -d "$ROOT/boot/firmware" ]]; then echo "$ROOT/boot/firmware/config.txt"
    elif [[ -f "$ROOT/boot/config.txt" ]]; then echo "$ROOT/boot/config.txt"
    elif [[ -n $ROOT ]]; then echo "$ROOT/boot/firmware/config.txt"
    fi
}

firmware_lines() {
    [[ $ROLE == door ]] || return 0
    local config_txt relay_line power_line outcome
    config_txt=$(firmware_config)
    if [[ -z $config_txt ]]; then
        say "warning: no /boot/firmware/config.txt (not a Pi?): the relay line is not held from boot"
        return 0
    fi
    relay_line=$("$PYTHON" "$HELPERS" relay-line "$ETC/doorward.toml") \
        || die "cannot read the relay pin from ${ETC#"$ROOT"}/doorward.toml"
    power_line=$("$PYTHON" "$HELPERS" power-line "$ETC/doorward.toml") \
        || die "cannot read [hardware.module_power] from ${ETC#"$ROOT"}/doorward.toml"
    mkdir -p "$(dirname "$config_txt")"
    outcome=$("$PYTHON" "$HELPERS" firmware-block "$config_txt" "$relay_line" \
        ${power_line:+"$power_line"} dtparam=strict_gpiod)
    if [[ $outcome == changed ]]; then
        CHANGED=1
        say "${config_txt#"$ROOT"}: $relay_line ${power_line:+"$power_line (the module's supply) "}and" \
            "dtparam=strict_gpiod (reboot to apply)"
    fi
}

# The unit's DevicePolicy=closed admits only named nodes, and systemd takes no wildcards, so
# the module's real node (/dev/serial0 -> /dev/ttyAMA0 ...) goes into a drop-in.
uart_dropin() {
    [[ $ROLE == server ]] && return 0
    local node dropin="$UNIT_DIR/$UNIT.d/50-uart.conf"
    if ! node=$("$PYTHON" "$HELPERS" resolve-node "${ROOT:-/}" "$UART"); then
        say "warning: $UART does not exist: enable the UART (docs/install.md) and run this again"
        return 0
    fi
    write_text "$dropin" 0644 <<EOT
# Written by systemd/install.sh: the fingerprint module's UART, $UART -> $node.
[Service]
DeviceAllow=$node rw
EOT
}

# ---- the units ------------------------------------------------------------------------------

ALL_UNITS=(doorward.service doorward-kiosk.service doorward-server.service)

remove_unit() {
    systemctl_live disable --now "$1" 2>/dev/null || true
    if [[ -e "$UNIT_DIR/$1" || -L "$UNIT_DIR/multi-user.target.wants/$1" ]]; then
        rm -rf "$UNIT_DIR/$1" "$UNIT_DIR/$1.d" "$UNIT_DIR/multi-user.target.wants/$1"
        say "removed $1"
        CHANGED=1
    fi
}

install_units() {
    local unit
    for unit in "${ALL_UNITS[@]}"; do  # one role per machine: enable only this role's unit
        [[ $unit != "$UNIT" ]] && remove_unit "$unit"
    done
    install_file "$SCRIPT_DIR/$UNIT" "$UNIT_DIR/$UNIT" 0644
    uart_dropin
}

enable_unit() {
    if [[ -n $ROOT ]]; then  # what `systemctl enable` would do, without systemctl
        link_to "/etc/systemd/system/$UNIT" "$UNIT_DIR/multi-user.target.wants/$UNIT"
        return 0
    fi
    systemctl daemon-reload
    systemctl enable "$UNIT"
    [[ $CHANGED == 1 ]] && systemctl try-restart "$UNIT"
    return 0
}

# ---- upgrade ----------------------------------------------------------------------------------

backup_state() {  # prints the backup's directory
    local backup
    backup="$STATE/backups/$(date -u +%Y%m%dT%H%M%SZ)-$1"
    mkdir -p "$backup" && chmod 0700 "$STATE/backups"
    find "$STATE" -mindepth 1 -maxdepth 1 ! -name backups -exec cp -a {} "$backup/" \;
    # keep the three newest backups: an SD card is small
    ls -1d "$STATE"/backups/*/ | sort | head -n -3 | xargs -r rm -rf
    echo "$backup"
}

restore_state() {
    find "$STATE" -mindepth 1 -maxdepth 1 ! -name backups -exec rm -rf {} +
    cp -a "$1/." "$STATE/"
}

# The migration hook: `doorward migrate --state-dir DIR` brings every state database to this
# release's schema. Exit 0: current; 3: the state is newer than this software (refused);
# anything else: failed. A release without the command has nothing to migrate.
run_migrations() {
    local release=$1 help status=0
    local doorward=("$release/bin/python" "$release/bin/doorward")
    help=$("${doorward[@]}" --help 2>&1 || true)
    if ! grep -qE '^ +migrate( |$)' <<<"$help"; then
        say "this release has no 'doorward migrate': nothing to migrate"
        return 0
    fi
    [[ -z $ROOT ]] && doorward=(runuser -u "$SERVICE_USER" -- "${doorward[@]}")
    "${doorward[@]}" migrate --state-dir "$STATE" || status=$?
    (( status == MIGRATE_REFUSED )) && say "migration refused: the state is newer than this release"
    return "$status"
}

upgrade() {
    [[ -f $ROLE_FILE ]] || die "nothing installed under ${OPT#"$ROOT"} (install with --role first)"
    ROLE=$(<"$ROLE_FILE") UNIT=$(unit_for "$ROLE")
    local name old backup was_active=0
    name=$(release_name "$UPGRADE_WHEEL") old=$(basename "$(readlink "$OPT/venv")")
    [[ $name == "$old" ]] && { say "already at $name"; return 0; }
    say "installing $name beside $old"
    build_release "$name" "$UPGRADE_WHEEL"
    [[ -z $ROOT ]] && systemctl is-active --quiet "$UNIT" && was_active=1
    systemctl_live stop "$UNIT"  # its stop hook makes the relay safe
    mkdir -p "$STATE"
    backup=$(backup_state "$old")
    if ! run_migrations "$OPT/releases/$name"; then
        restore_state "$backup"
        rm -rf "$OPT/releases/$name"
        (( was_active )) && systemctl_live start "$UNIT"
        die "upgrade to $name abandoned: $old and its state (${backup#"$ROOT"}) are unchanged"
    fi
    link_to "releases/$name" "$OPT/venv"
    find "$OPT/releases" -mindepth 1 -maxdepth 1 ! -name "$name" ! -name "$old" -exec rm -rf {} +
    (( was_active )) && systemctl_live start "$UNIT"
    say "upgraded $old -> $name (state backed up in ${backup#"$ROOT"}; rollback: $old)"
}

# ---- uninstall --------------------------------------------------------------------------------

uninstall() {
    local unit
    for unit in "${ALL_UNITS[@]}"; do remove_unit "$unit"; done
    systemctl_live daemon-reload
    rm -rf "$OPT"
    if [[ -L $BIN_LINK ]]; then rm -f "$BIN_LINK"; fi
    if (( PURGE )); then
        rm -rf "$ETC" "$STATE" "$CREDSTORE/doorward-door"
        [[ -z $ROOT ]] && { userdel "$SERVICE_USER" 2>/dev/null || true; }
        say "purged config, state and the door's credential"
    else
        say "kept ${ETC#"$ROOT"}, ${STATE#"$ROOT"} and the credential (--purge removes them)"
    fi
    # On purpose: the firmware's gpio= line keeps holding a still-wired relay de-energised.
    say "left the doorward block in config.txt; remove it by hand once the relay is unwired"
}

# ---- main ----------------------------------------------------------------------------------

install_role() {
    [[ -n $ROLE ]] || die "--role door|kiosk|server is required"
    UNIT=$(unit_for "$ROLE")
    [[ -z $ROOT && $(id -u) != 0 ]] && die "run as root (sudo), or with --root DIR"
    if [[ $ROLE == door && ( -n $RELAY_PIN || ! -e "$ETC/doorward.toml" ) ]]; then
        ask_relay_pin  # before anything is written
    fi
    ensure_user
    mkdir -p "$OPT" "$ETC"
    write_text "$ROLE_FILE" 0644 <<<"$ROLE"
    ensure_release
    install_file "$SOURCE_DIR/docs/install.md" "$OPT/docs/install.md" 0644  # the units' Documentation=
    link_to "/opt/doorward/venv/bin/doorward" "$BIN_LINK"  # `doorward` on root's PATH
    config_files
    firmware_lines
    install_units
    enable_unit
    say "done: $UNIT enabled. Next: check /etc/doorward/*.toml, \`doorward check-config\`," \
        "\`doorward doctor\`, pair (docs/install.md), then \`systemctl start $UNIT\`"
}

main() {
    parse_args "$@"
    set_paths
    CHANGED=0
    if (( UNINSTALL )); then uninstall
    elif [[ -n $UPGRADE_WHEEL ]]; then upgrade
    else install_role
    fi
}

main "$@"
