package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// writeRecoveryConf makes the plain backup in dir start as a standby of the server cfg names, as
// pg_basebackup -R does: an empty standby.signal, and primary_conninfo appended to
// postgresql.auto.conf, where it overrides any earlier setting, with primary_slot_name when -S
// names a slot.
func writeRecoveryConf(dir string, cfg *pgx.ConnConfig, slot string, fileMode os.FileMode, noSync bool) error {
	signal := filepath.Join(dir, "standby.signal")
	if err := writeSynced(signal, nil, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fileMode, noSync); err != nil {
		return err
	}
	conf := filepath.Join(dir, "postgresql.auto.conf")
	return writeSynced(conf, recoverySettings(cfg, slot), os.O_CREATE|os.O_APPEND|os.O_WRONLY, fileMode, noSync)
}

// recoveryAppend is what -R adds to a tar archive's members, by name: the same two changes
// writeRecoveryConf makes to a directory.
func recoveryAppend(cfg *pgx.ConnConfig, slot string) map[string][]byte {
	return map[string][]byte{"standby.signal": {}, "postgresql.auto.conf": recoverySettings(cfg, slot)}
}

// recoverySettings is the text -R appends to postgresql.auto.conf.
func recoverySettings(cfg *pgx.ConnConfig, slot string) []byte {
	text := "\n# written by pgpull backup -R\nprimary_conninfo = " + quoteSetting(primaryConninfo(cfg)) + "\n"
	if slot != "" {
		text += "primary_slot_name = " + quoteSetting(slot) + "\n"
	}
	return []byte(text)
}

func writeSynced(path string, b []byte, flags int, mode os.FileMode, noSync bool) error {
	f, err := os.OpenFile(path, flags, mode)
	if err != nil {
		return fmt.Errorf("writing the standby settings: %w", err)
	}
	_, err = f.Write(b)
	if err == nil && !noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the standby settings to %s: %w", path, err)
	}
	return nil
}

// primaryConninfo is the libpq connection string a standby uses to reach the server the
// backup came from: its host, port and user, and the password when one was given.
func primaryConninfo(cfg *pgx.ConnConfig) string {
	kv := [][2]string{{"user", cfg.User}, {"host", cfg.Host}, {"port", strconv.Itoa(int(cfg.Port))}}
	if cfg.Password != "" {
		kv = append(kv, [2]string{"password", cfg.Password})
	}
	parts := make([]string, 0, len(kv))
	for _, p := range kv {
		if p[1] != "" {
			parts = append(parts, p[0]+"="+quoteConninfo(p[1]))
		}
	}
	return strings.Join(parts, " ")
}

// quoteConninfo quotes a connection string value when it needs it: libpq reads '...' with
// backslash escapes.
func quoteConninfo(v string) string {
	if v != "" && !strings.ContainsAny(v, " '\\\t\n") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// quoteSetting quotes a string for postgresql.conf, whose strings take backslash escapes too.
func quoteSetting(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(v) + "'"
}
