package migrate

import (
	"fmt"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// colType is a column type as the parser spells it: "varchar" for
// character varying, "int4" for integer, "numeric" for decimal, with its
// modifiers (length, precision and scale).
type colType struct {
	name  string
	mods  []int32
	array bool
}

func typeOf(tn *pg.TypeName) colType {
	var t colType
	if names := tn.GetNames(); len(names) > 0 {
		t.name = strings.ToLower(names[len(names)-1].GetString_().GetSval())
	}
	for _, m := range tn.GetTypmods() {
		if c := m.GetAConst(); c != nil && c.GetIval() != nil {
			t.mods = append(t.mods, c.GetIval().GetIval())
		}
	}
	t.array = len(tn.GetArrayBounds()) > 0
	return t
}

func (t colType) known() bool { return t.name != "" }

// sqlNames are the SQL names of the parser's internal type names, for
// findings a person reads.
var sqlNames = map[string]string{
	"int2": "smallint", "int4": "integer", "int8": "bigint", "float4": "real", "float8": "double precision",
	"bool": "boolean", "bpchar": "char", "timestamptz": "timestamp with time zone", "timetz": "time with time zone",
}

func (t colType) String() string {
	s := t.name
	if n, ok := sqlNames[s]; ok {
		s = n
	}
	if len(t.mods) > 0 {
		var m []string
		for _, v := range t.mods {
			m = append(m, fmt.Sprint(v))
		}
		s += "(" + strings.Join(m, ",") + ")"
	}
	if t.array {
		s += "[]"
	}
	return s
}

func (t colType) equal(o colType) bool {
	return t.name == o.name && t.array == o.array && fmt.Sprint(t.mods) == fmt.Sprint(o.mods)
}

// coercible reports whether PostgreSQL changes a column from old to new
// without rewriting the table: the binary-coercible changes whose length
// or precision check can only pass (PostgreSQL docs, ALTER TABLE: "if the
// old type is binary coercible to the new type … a table rewrite is not
// needed"). Anything not listed is taken to rewrite: timestamp to
// timestamptz, for one, rewrites unless the session's TimeZone is UTC.
func coercible(old, new colType) bool {
	if old.equal(new) {
		return true
	}
	if old.array != new.array {
		return false
	}
	// wider: new has no limit, or a limit at least old's.
	wider := func() bool { return len(new.mods) == 0 || len(old.mods) > 0 && new.mods[0] >= old.mods[0] }
	switch {
	case old.name == "varchar" && new.name == "text", old.name == "text" && new.name == "varchar" && len(new.mods) == 0:
		return true
	case old.name == "varchar" && new.name == "varchar", old.name == "varbit" && new.name == "varbit":
		return wider()
	case old.name == "numeric" && new.name == "numeric":
		// The scale must stay (numeric(p) is scale 0); precision may grow.
		scale := func(t colType) int32 {
			if len(t.mods) > 1 {
				return t.mods[1]
			}
			return 0
		}
		return len(new.mods) == 0 || len(old.mods) > 0 && new.mods[0] >= old.mods[0] && scale(new) == scale(old)
	case old.name == "cidr" && new.name == "inet":
		return true
	}
	return false
}

// widens lists the types some binary-coercible change reaches. When the
// file does not show a column's current type, a change to one of these is
// taken to be that widening (TYPE varchar(200) is almost always a varchar
// growing, TYPE text a varchar losing its limit), and not reported.
var widens = map[string]bool{"varchar": true, "text": true, "numeric": true, "varbit": true, "inet": true}

// typeChangeRewrites says whether ALTER COLUMN TYPE rewrites the table,
// and why, for the finding.
func typeChangeRewrites(old, new colType, using bool) (why string, rewrites bool) {
	switch {
	case using:
		return "has a USING expression, so every row is computed again (rollbook does not prove an expression leaves the stored bytes as they are)", true
	case old.known() && coercible(old, new):
		return "", false
	case old.known():
		return "changes it from " + old.String() + ", which is not binary-coercible to " + new.String(), true
	case widens[new.name] && !new.array:
		return "", false
	}
	return "converts every value to " + new.String() + " (this file does not show the column's current type, and no other type changes to " + colType{name: new.name}.String() + " without a rewrite)", true
}

// serialTypes are the column types whose DEFAULT is nextval().
var serialTypes = map[string]bool{"serial": true, "serial2": true, "serial4": true, "serial8": true, "smallserial": true, "bigserial": true}

// volatileFuncs are volatile functions defaults commonly call; stableFuncs
// are STABLE or IMMUTABLE ones, evaluated once when the column is added.
// A function in neither is taken as volatile, PostgreSQL's default for a
// function that does not declare it.
var (
	volatileFuncs = map[string]bool{
		"random": true, "random_normal": true, "gen_random_uuid": true, "uuidv4": true, "uuidv7": true,
		"uuid_generate_v1": true, "uuid_generate_v1mc": true, "uuid_generate_v4": true,
		"clock_timestamp": true, "timeofday": true, "nextval": true, "setval": true,
	}
	stableFuncs = map[string]bool{
		"now": true, "statement_timestamp": true, "transaction_timestamp": true, "current_setting": true,
		"to_timestamp": true, "to_date": true, "to_char": true, "date_trunc": true, "make_date": true,
		"make_timestamp": true, "make_timestamptz": true, "make_interval": true, "lower": true, "upper": true,
		"concat": true, "md5": true, "length": true, "abs": true, "round": true, "format": true,
		"jsonb_build_object": true, "json_build_object": true, "jsonb_build_array": true, "json_build_array": true,
	}
)

// volatileColumn says why adding the column fills every existing row ("" when
// it does not): a volatile default, a serial type, an identity or a
// stored generated column.
func volatileColumn(d *pg.ColumnDef) string {
	if t := typeOf(d.GetTypeName()); serialTypes[t.name] {
		return "is " + t.name + " (its DEFAULT nextval() is volatile)"
	}
	exprs := []*pg.Node{d.GetRawDefault()}
	for _, c := range d.GetConstraints() {
		cn := c.GetConstraint()
		switch cn.GetContype() {
		case pg.ConstrType_CONSTR_IDENTITY:
			return "is an identity column (each row gets a value from a sequence)"
		case pg.ConstrType_CONSTR_GENERATED:
			return "is a stored generated column (computed for each row)"
		case pg.ConstrType_CONSTR_DEFAULT:
			exprs = append(exprs, cn.GetRawExpr())
		}
	}
	for _, e := range exprs {
		if e == nil {
			continue
		}
		var why string
		funcCalls(e, func(fc *pg.FuncCall) {
			names := fc.GetFuncname()
			if why != "" || len(names) == 0 {
				return
			}
			name := strings.ToLower(names[len(names)-1].GetString_().GetSval())
			switch {
			case volatileFuncs[name]:
				why = "has DEFAULT " + name + "(), which is volatile"
			case !stableFuncs[name]:
				why = "has DEFAULT " + name + "(), which rollbook does not know to be STABLE or IMMUTABLE (a function is VOLATILE unless declared otherwise)"
			}
		})
		if why != "" {
			return why
		}
	}
	return ""
}

// funcCalls calls visit for every function call in an expression tree.
func funcCalls(m proto.Message, visit func(*pg.FuncCall)) {
	if fc, ok := m.(*pg.FuncCall); ok {
		visit(fc)
	}
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Message() == nil || fd.IsMap():
		case fd.IsList():
			for i := 0; i < v.List().Len(); i++ {
				funcCalls(v.List().Get(i).Message().Interface(), visit)
			}
		default:
			funcCalls(v.Message().Interface(), visit)
		}
		return true
	})
}
