package s3store

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
)

// complete asks the store to make the object from the parts sent, retrying as every request is.
// A completion can succeed in the store and its answer still be lost (a 500 from a proxy, a
// connection cut after the request): the retry then hears that the upload is gone
// (NoSuchUpload), and the object is taken as complete only if it is there with the ETag these
// parts make. Otherwise the error stands, and the caller aborts the upload: no object appears.
func (u *Upload) complete() error {
	asked := false
	err := retry(u.ctx, func(ctx context.Context) error {
		_, err := u.store.core.CompleteMultipartUpload(ctx, u.store.loc.Bucket, u.key, u.id, u.sent, minio.PutObjectOptions{})
		if err != nil && asked && minio.ToErrorResponse(err).Code == "NoSuchUpload" && u.landed(ctx) {
			return nil
		}
		asked = true
		return err
	})
	if err != nil {
		return fmt.Errorf("completing the upload of %s: %w; %s", u.store.url(u.key), u.store.requestError(err), takeAgain)
	}
	return nil
}

// takeAgain is the next step after a request the retries did not mend: the sink aborts the
// upload, so nothing of it stays in the store.
const takeAgain = "the upload is aborted: check the store and the network to it, then take the backup again"

// landed reports whether the object is in the store as these parts make it.
func (u *Upload) landed(ctx context.Context) bool {
	info, err := u.store.core.StatObject(ctx, u.store.loc.Bucket, u.key, minio.StatObjectOptions{})
	return err == nil && strings.Trim(info.ETag, `"`) == multipartETag(u.sent)
}

// multipartETag is the ETag S3 gives an object completed from parts: the MD5 of the parts' MD5s
// (their ETags) one after the other, a dash, and the number of parts.
func multipartETag(parts []minio.CompletePart) string {
	h := md5.New()
	for _, p := range parts {
		sum, _ := hex.DecodeString(strings.Trim(p.ETag, `"`))
		h.Write(sum)
	}
	return hex.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts))
}
