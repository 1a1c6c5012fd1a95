#!/usr/bin/env bash
# The README walkthrough as one script: seed 004's theatre, then a hold, a confirm and an expiry.
# Usage: docs/walkthrough.sh [base-url] (the server must be running; the admin key is read from ./data/admin.key
# unless ADMIN_KEY is set).
set -euo pipefail
URL=${1:-http://localhost:5050}
ADMIN=${ADMIN_KEY:-$(cat ./data/admin.key)}
field() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
post() { curl -s -X POST "$URL$1" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$2"; }
avail() { curl -s "$URL/capacity/$1" -H "Authorization: Bearer $KEY" | grep -o '"available_capacity":[^,]*' | cut -d: -f2; }

KEY=$(curl -s -X POST "$URL/admin/tenants" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
  -d '{"name":"Theatre Co"}' | field api_key)

POOL=$(post /events/play-789/capacity '{"section_name":"Theatre","total_capacity":100}' | field id)
ADULT=$(post /events/play-789/capacity "{\"section_name\":\"Adult\",\"total_capacity\":50,\"parent_ids\":[\"$POOL\"],\"mode\":\"capped\"}" | field id)
CHILD=$(post /events/play-789/capacity "{\"section_name\":\"Child\",\"parent_ids\":[\"$POOL\"],\"mode\":\"shared\"}" | field id)
VIP=$(post /events/play-789/capacity '{"section_name":"VIP","total_capacity":20,"mode":"own"}' | field id)
STREAM=$(post /events/play-789/capacity '{"section_name":"Live-stream","mode":"unlimited"}' | field id)

post /reservations "{\"items\":[{\"capacity_id\":\"$ADULT\",\"quantity\":2},{\"capacity_id\":\"$CHILD\",\"quantity\":1}]}" >/dev/null
echo "after 2 Adult + 1 Child: pool $(avail "$POOL"), Adult $(avail "$ADULT"), Child $(avail "$CHILD")"
post "/capacity/$VIP/reserve" '{"quantity":3}' >/dev/null
echo "after 3 VIP: VIP $(avail "$VIP")"
post "/capacity/$STREAM/reserve" '{"quantity":1}' >/dev/null
echo "after 1 Live-stream: pool $(avail "$POOL"), Live-stream $(avail "$STREAM")"

PRICE=$(post "/capacity/$ADULT/pricing" '{"name":"Adult","base_price":42.50,"service_fee":2.00,"tax_rate":0.2,"currency":"EUR"}' | field id)
HOLD=$(post "/capacity/$ADULT/reserve" "{\"quantity\":2,\"pricing_id\":\"$PRICE\"}" | field id)
curl -s -X PUT "$URL/pricing/$PRICE" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d '{"current_price":99}' >/dev/null
echo "confirm (price locked at 42.50 despite the change to 99):"
post "/reservations/$HOLD/confirm" '{}'; echo

SHORT=$(post "/capacity/$VIP/reserve" '{"quantity":5,"reservation_minutes":1}' | field id)
echo "VIP with a 1-minute hold of 5: $(avail "$VIP"); waiting 62 s for it to expire..."
sleep 62
echo "VIP after expiry: $(avail "$VIP"); the hold is now:"
curl -s "$URL/reservations/$SHORT" -H "Authorization: Bearer $KEY" | field status
echo "ledger audit:"
curl -s "$URL/admin/verify" -H "Authorization: Bearer $ADMIN"; echo
