# Sourced by the bench scripts: a throw-away Debian clickhouse-server (18.16) on loopback,
# with its data in one directory, used as the peer that flowwatch is compared with.
# ch_start DIR   starts it (installing the Debian packages when missing)
# ch_query SQL   runs a query through clickhouse-client and prints the result
# ch_stop        stops it
CH_TCP_PORT=${CH_TCP_PORT:-19000}
CH_HTTP_PORT=${CH_HTTP_PORT:-18123}

ch_install() {
  if ! command -v clickhouse-server >/dev/null || ! command -v clickhouse-client >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
  fi
}

ch_start() {
  CH_DIR=$1
  ch_install
  mkdir -p "$CH_DIR"/{data,tmp,user_files,format_schemas,log}
  sed -e "s#<http_port>8123</http_port>#<http_port>$CH_HTTP_PORT</http_port>#" \
      -e "s#<tcp_port>9000</tcp_port>#<tcp_port>$CH_TCP_PORT</tcp_port>#" \
      -e "s#<interserver_http_port>9009</interserver_http_port>#<interserver_http_port>$((CH_TCP_PORT+9))</interserver_http_port>#" \
      -e "s#<listen_host>::1</listen_host>##" \
      -e "s#/var/lib/clickhouse/tmp/#$CH_DIR/tmp/#" \
      -e "s#/var/lib/clickhouse/user_files/#$CH_DIR/user_files/#" \
      -e "s#/var/lib/clickhouse/format_schemas/#$CH_DIR/format_schemas/#" \
      -e "s#/var/lib/clickhouse/#$CH_DIR/data/#" \
      -e "s#/var/log/clickhouse-server/#$CH_DIR/log/#g" \
      /etc/clickhouse-server/config.xml >"$CH_DIR/config.xml"
  cp /etc/clickhouse-server/users.xml "$CH_DIR/users.xml"
  sed -i "s#<users_config>users.xml</users_config>#<users_config>$CH_DIR/users.xml</users_config>#" "$CH_DIR/config.xml"
  clickhouse-server --config-file="$CH_DIR/config.xml" >"$CH_DIR/log/stdout" 2>&1 &
  CH_PID=$!
  for _ in $(seq 1 100); do
    if clickhouse-client --port "$CH_TCP_PORT" -q 'SELECT 1' >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "clickhouse-server did not start; see $CH_DIR/log" >&2
  return 1
}

ch_query() { clickhouse-client --port "$CH_TCP_PORT" -q "$1"; }

ch_stop() {
  [ -n "${CH_PID:-}" ] && kill "$CH_PID" 2>/dev/null && wait "$CH_PID" 2>/dev/null
  CH_PID=
}

# Typed tables. Addresses are FixedString(16), binary IPv6 with IPv4 rows as
# IPv4-mapped (::ffff:a.b.c.d): one fixed-width column per address, as
# ClickHouse recommends for mixed IPv4/IPv6 before it had IPv4/IPv6 types
# (19.x), so GROUP BY on two addresses is a 32-byte fixed key. ("-", NODATA
# records, maps to ::, which VPC flow logs never carry.) A UInt32 column
# would drop the IPv6 rows, or need a second column as a second group key.
# Low-cardinality text (action, log-status, flow-direction) is Enum8:
# LowCardinality does not exist in 18.16. "-" in an integer column is NULL.
CH_FLOW_COLUMNS="version UInt8, account_id String, interface_id String,
  srcaddr FixedString(16), dstaddr FixedString(16), srcport Nullable(UInt16), dstport Nullable(UInt16),
  protocol Nullable(UInt8), packets Nullable(UInt64), bytes Nullable(UInt64),
  start UInt32, end UInt32, action Enum8('-' = 0, 'ACCEPT' = 1, 'REJECT' = 2),
  log_status Enum8('-' = 0, 'OK' = 1, 'NODATA' = 2, 'SKIPDATA' = 3)"
CH_FLOW_TABLE="CREATE TABLE flows ($CH_FLOW_COLUMNS) ENGINE = MergeTree ORDER BY (interface_id, start)"

# ch_ip16 COLUMN: SQL turning an address column loaded as text into FixedString(16).
ch_ip16() {
  echo "if(position($1, ':') > 0, IPv6StringToNum($1), if($1 = '-', toFixedString('', 16), IPv4ToIPv6(IPv4StringToNum($1))))"
}

# ch_load_typed TABLE TEXT_COLUMNS ADDR_COLUMNS: bulk-loads TabSeparated rows from stdin into
# TABLE (already created) through a staging copy whose address columns are String, then
# converts them (ch_ip16). TEXT_COLUMNS is TABLE's column list with the address types
# written as String.
ch_load_typed() {
  local table=$1 cols=$2 addrs=$3 sel="" c
  ch_query "CREATE TABLE ${table}_text ($cols) ENGINE = Log"
  clickhouse-client --port "$CH_TCP_PORT" -q "INSERT INTO ${table}_text FORMAT TabSeparated"
  for c in $(ch_query "DESCRIBE TABLE $table" | cut -f1); do
    if [[ " $addrs " == *" $c "* ]]; then sel+="$(ch_ip16 "$c"), "; else sel+="$c, "; fi
  done
  ch_query "INSERT INTO $table SELECT ${sel%, } FROM ${table}_text"
  ch_query "DROP TABLE ${table}_text"
}
