package session

import "fmt"

// MinVersionNum is the oldest server_version_num pgpull supports: 13 brought the
// pg_read_binary_file and pg_ls_dir forms the stages rely on.
const MinVersionNum = 130000

// CheckSupported refuses a server pgpull cannot back up online: one older than 13, or one whose
// wal_level keeps too little WAL for a backup to be restored consistently.
func CheckSupported(versionNum int, walLevel string) error {
	if versionNum < MinVersionNum {
		return fmt.Errorf("server version %s is older than 13, which pgpull does not support; use pg_basebackup for it",
			versionString(versionNum))
	}
	if walLevel == "minimal" {
		return fmt.Errorf("wal_level is minimal on the server, which allows no online backup; set wal_level = replica and restart it")
	}
	return nil
}

// versionString spells server_version_num as PostgreSQL does: 120022 is 12.22, but before 10 the
// major version had two parts, so 90624 is 9.6.24.
func versionString(n int) string {
	if n < 100000 {
		return fmt.Sprintf("%d.%d.%d", n/10000, n/100%100, n%100)
	}
	return fmt.Sprintf("%d.%d", n/10000, n%10000)
}
