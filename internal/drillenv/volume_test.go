package drillenv

import (
	"errors"
	"strings"
	"testing"
)

func TestGenerateFollowsColumnTypes(t *testing.T) {
	tests := []struct {
		col     column
		want    string // a part of the expression
		unknown bool
	}{
		{col: column{name: "qty", typ: "integer", base: "int4"}, want: "(1 + g % 1000)::integer"},
		{col: column{name: "id", typ: "bigint", base: "int8", unique: true}, want: "g::bigint"},
		{col: column{name: "n", typ: "smallint", base: "int2"}, want: "::smallint"},
		{col: column{name: "sku", typ: "text", base: "text"}, want: "'sku-' || g"},
		{col: column{name: "code", typ: "character varying(8)", base: "varchar", maxLen: 8}, want: "right('code-' || g, 8)"},
		{col: column{name: "o'k", typ: "text", base: "text"}, want: "'o''k-' || g"},
		{col: column{name: "paid", typ: "boolean", base: "bool"}, want: "g % 2 = 0"},
		{col: column{name: "at", typ: "timestamp with time zone", base: "timestamptz"}, want: "now() - make_interval"},
		{col: column{name: "day", typ: "date", base: "date"}, want: "current_date"},
		{col: column{name: "ref", typ: "uuid", base: "uuid"}, want: "::uuid"},
		{col: column{name: "doc", typ: "jsonb", base: "jsonb"}, want: "json_build_object"},
		{col: column{name: "amount", typ: "numeric(12,2)", base: "numeric"}, want: "::numeric(12,2)"},
		{col: column{name: "state", typ: "order_state", base: "order_state", kind: 'e'}, want: "enum_range(NULL::order_state)"},
		{col: column{name: "where", typ: "point", base: "point"}, unknown: true},
		{col: column{name: "tags", typ: "text[]", base: "_text"}, unknown: true},
	}
	for _, tc := range tests {
		got, err := generate(tc.col)
		if tc.unknown {
			if err == nil {
				t.Errorf("%s %s: %q; want the generator to refuse the type", tc.col.name, tc.col.typ, got)
			}
			continue
		}
		if err != nil || !strings.Contains(got, tc.want) {
			t.Errorf("%s %s: %q, %v; want it to hold %q", tc.col.name, tc.col.typ, got, err, tc.want)
		}
	}
}

func TestFillOrder(t *testing.T) {
	tables := map[string]*table{
		"customers": {name: "customers", columns: []column{{name: "id", base: "int8"}}},
		"orders":    {name: "orders", columns: []column{{name: "customer_id", base: "int8", refTable: "customers", refCol: "id"}}},
		"lines":     {name: "lines", columns: []column{{name: "order_id", base: "int8", refTable: "orders", refCol: "id"}, {name: "parent", base: "int8", refTable: "lines", refCol: "id"}}},
	}
	got, err := fillOrder(map[string]int64{"lines": 10, "orders": 5, "customers": 2}, tables)
	if err != nil || strings.Join(got, ",") != "customers,orders,lines" {
		t.Errorf("order %v, %v; want each table after the tables it refers to", got, err)
	}
	for _, tc := range []struct {
		volume map[string]int64
		want   []string
	}{
		{map[string]int64{"ordrs": 10}, []string{"gameday.database.volume.ordrs", `table "ordrs" is not in the schema`, "did you mean orders?"}},
		{map[string]int64{"invoices": 10}, []string{"gameday.database.volume.invoices", "write one of: customers, lines, orders"}},
		{map[string]int64{"orders": 0}, []string{"0 rows for orders", "positive number"}},
	} {
		_, err := fillOrder(tc.volume, tables)
		var ve *VolumeError
		if !errors.As(err, &ve) {
			t.Errorf("%v: %v; want a VolumeError", tc.volume, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: %q; want it to say %q", tc.volume, err, w)
			}
		}
	}
}

func TestStatementsKeepTheirLines(t *testing.T) {
	src := "-- header\n-- more\nSET lock_timeout = '200ms';\n\n/* why */\nCREATE INDEX CONCURRENTLY i\n  ON t (c);\nSELECT ';' ; -- trailing\n"
	got := statements(src)
	want := []statement{{3, "SET lock_timeout = '200ms'"}, {6, "CREATE INDEX CONCURRENTLY i\n  ON t (c)"}, {8, "SELECT ';'"}}
	if len(got) != len(want) {
		t.Fatalf("%d statements %+v; want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("statement %d: %+v; want %+v", i, got[i], want[i])
		}
	}
	if l, c := positionIn("SELECT 1;\nSELEC x", 12, 4); l != 5 || c != 3 {
		t.Errorf("position %d:%d; want 5:3", l, c)
	}
}
