package config

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// Env looks up an environment variable, as os.LookupEnv does. Parse uses it
// for HOME (~ expansion), XDG_STATE_HOME (the store directory) and the
// $NAME expansion OfflineIMAP applies to some paths; tests pass MapEnv.
type Env func(name string) (value string, ok bool)

// OSEnv is the process environment.
var OSEnv Env = os.LookupEnv

// MapEnv is an Env holding exactly the variables in m.
func MapEnv(m map[string]string) Env {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func (e Env) get(name string) string {
	v, _ := e(name)
	return v
}

// home is the home directory: $HOME, else the user database entry of the
// current user, as Python's os.path.expanduser does.
func (e Env) home() string {
	if h := e.get("HOME"); h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return ""
}

// expandUser does what Python's os.path.expanduser does: a leading "~" or
// "~/..." becomes the home directory, "~name/..." that user's home
// directory; a path naming an unknown user is returned unchanged.
func (e Env) expandUser(path string) string {
	if !strings.HasPrefix(path, "~") {
		return path
	}
	i := strings.IndexByte(path, '/')
	if i < 0 {
		i = len(path)
	}
	var dir string
	if i == 1 {
		dir = e.home()
		if dir == "" {
			return path
		}
	} else {
		u, err := user.Lookup(path[1:i])
		if err != nil {
			return path
		}
		dir = u.HomeDir
	}
	dir = strings.TrimRight(dir, "/")
	if out := dir + path[i:]; out != "" {
		return out
	}
	return "/"
}

// expandVars does what Python's os.path.expandvars does: $NAME and ${NAME}
// are replaced by the variable's value when it is set and left as they are
// when it is not. NAME is ASCII letters, digits and '_'.
func (e Env) expandVars(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var out strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 {
			out.WriteString(s)
			return out.String()
		}
		out.WriteString(s[:i])
		s = s[i:]
		var name, ref string
		if strings.HasPrefix(s, "${") {
			if end := strings.IndexByte(s, '}'); end > 0 {
				name, ref = s[2:end], s[:end+1]
			}
		} else {
			n := 1
			for n < len(s) && isVarChar(s[n]) {
				n++
			}
			if n > 1 {
				name, ref = s[1:n], s[:n]
			}
		}
		if ref == "" {
			out.WriteByte('$')
			s = s[1:]
			continue
		}
		if v, ok := e(name); ok {
			out.WriteString(v)
		} else {
			out.WriteString(ref)
		}
		s = s[len(ref):]
	}
}

func isVarChar(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// expandPath applies ~ then $NAME expansion, in that order, as OfflineIMAP
// does for metadata, localfolders and sslcacertfile.
func (e Env) expandPath(p string) string {
	return e.expandVars(e.expandUser(p))
}

// stateHome is $XDG_STATE_HOME, or ~/.local/state when it is unset, empty
// or relative (the XDG base directory specification says to ignore a
// relative value).
func (e Env) stateHome() string {
	if d := e.get("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return d
	}
	return filepath.Join(e.home(), ".local", "state")
}

// abbreviate writes path with the home directory as "~", for messages.
func (e Env) abbreviate(path string) string {
	home := strings.TrimRight(e.home(), "/")
	if home == "" {
		return path
	}
	if path == home {
		return "~"
	}
	if rest, ok := strings.CutPrefix(path, home+"/"); ok {
		return "~/" + rest
	}
	return path
}

// DefaultPath is where OfflineIMAP looks for its configuration when not
// given -c: $XDG_CONFIG_HOME/offlineimap/config (XDG_CONFIG_HOME defaulting
// to ~/.config) if that file exists, else ~/.offlineimaprc.
func DefaultPath(env Env) string {
	if env == nil {
		env = OSEnv
	}
	xdg := env.get("XDG_CONFIG_HOME")
	if xdg == "" {
		xdg = env.expandUser("~/.config")
	}
	p := filepath.Join(xdg, "offlineimap", "config")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return env.expandUser("~/.offlineimaprc")
}
