package site

import (
	"reflect"
	"slices"
	"testing"
)

// TestOwnHoldsNoPages: Own goes whole into a page's key, so nothing in it
// may hold another page: a list there would key a page by its neighbours'
// values as they were, not by their keys.
func TestOwnHoldsNoPages(t *testing.T) {
	others := []reflect.Type{reflect.TypeFor[Page](), reflect.TypeFor[Term](), reflect.TypeFor[Taxonomy](), reflect.TypeFor[AlertList]()}
	seen := map[reflect.Type]bool{}
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		if slices.Contains(others, typ) {
			t.Errorf("Own.%s holds a %s: move the field out of Own and name what it shows in the page's record (deps)", path, typ)
			return
		}
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array:
			walk(path, typ.Elem())
		case reflect.Map:
			walk(path, typ.Key())
			walk(path, typ.Elem())
		case reflect.Struct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				walk(path+"."+f.Name, f.Type)
			}
		case reflect.Interface, reflect.Func, reflect.Chan:
			t.Errorf("Own.%s is a %s: its key cannot say what it holds", path, typ.Kind())
		}
	}
	own := reflect.TypeFor[Own]()
	for i := range own.NumField() {
		walk(own.Field(i).Name, own.Field(i).Type)
	}
}

// TestPageFieldsAreKeyed: a Page field outside Own is either keyed by
// pageKey itself or shows other pages, which the page's record names.
// A new one fails here until it is one or the other.
func TestPageFieldsAreKeyed(t *testing.T) {
	keyed := []string{"Type", "URL", "Title", "Plan", "Content", "Own"}
	recorded := []string{"Pages", "Terms", "Taxonomy", "Children", "AlertList"}
	typ := reflect.TypeFor[Page]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.IsExported() && !slices.Contains(keyed, f.Name) && !slices.Contains(recorded, f.Name) {
			t.Errorf("Page.%s is neither in Own (keyed whole) nor named by a page's record (deps): put it in Own, or record it where the page is made (pagetypes.go) and in pageKey", f.Name)
		}
	}
	// And every page that shows other pages names them in its record.
	root := cacheSite(t)
	b := memSite(t, root)
	types := map[PageType]bool{}
	for u, d := range b.pages {
		pg := d.page
		types[pg.Type] = true
		if pg.rec != d {
			t.Errorf("%s: the page's record is not the one its URL keeps", u)
		}
		if len(pg.Pages) > 0 && !slices.Equal(d.lists, pg.Pages) || len(pg.Children) > 0 && !slices.Equal(d.lists, pg.Children) {
			t.Errorf("%s: its record lists %d pages, the page shows %d", u, len(d.lists), len(pg.Pages)+len(pg.Children))
		}
		if pg.Taxonomy != nil && d.tax != pg.Taxonomy {
			t.Errorf("%s: shows taxonomy %s, its record does not name it", u, pg.Taxonomy.Key)
		}
		if pg.Terms != nil && !d.whole {
			t.Errorf("%s: shows a taxonomy's terms, yet its record is kept as if it did not", u)
		}
		if pg.AlertList != nil && d.alerts == nil {
			t.Errorf("%s: shows the alerts, its record does not name them", u)
		}
	}
	for _, k := range pageTypes {
		if !types[k.typ] {
			t.Errorf("the test site has no %s page", k.typ)
		}
	}
}

// TestReservedURLs: the URLs of generated pages, read from the page
// table and the taxonomies, are no content page's.
func TestReservedURLs(t *testing.T) {
	for _, c := range []struct {
		url  string
		want bool
	}{
		{"/stale/", true}, {"/drills/x/", true}, {"/404.html", true}, {"/sitemap.xml", true},
		{"/tags/", true}, {"/services/payments/", true}, {"/_search/x", true},
		{"/", false}, {"/alerts/", false}, {"/payments/", false}, {"/staleness/", false},
	} {
		if got := reservedURL(c.url); got != c.want {
			t.Errorf("reservedURL(%q) = %v, want %v", c.url, got, c.want)
		}
	}
	for _, tax := range taxonomies() {
		if !reservedURL("/" + tax.Key + "/") {
			t.Errorf("taxonomy %s's URL is not reserved", tax.Key)
		}
	}
}
