package ota

import "errors"

// Sentinel errors. Functions wrap them with what was wrong; compare with
// errors.Is.
var (
	// ErrMalformed: the bundle or manifest does not follow the format.
	ErrMalformed = errors.New("malformed bundle")
	// ErrUnknownKey: the bundle is signed by a key that is not trusted.
	ErrUnknownKey = errors.New("signed by an untrusted key")
	// ErrBadSignature: the signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrHashMismatch: the binary is not the one the manifest names.
	ErrHashMismatch = errors.New("binary hash mismatch")
	// ErrTruncated: the bundle ended early.
	ErrTruncated = errors.New("bundle truncated")
	// ErrTooLarge: the bundle or binary is larger than allowed.
	ErrTooLarge = errors.New("too large")
	// ErrExpired: the manifest's expiry time has passed.
	ErrExpired = errors.New("bundle expired")
	// ErrWrongArch: the binary is for another OS or CPU.
	ErrWrongArch = errors.New("wrong architecture")
	// ErrWrongModel: the bundle is for another kind of device.
	ErrWrongModel = errors.New("wrong model")
	// ErrDowngrade: the version is not newer than the version floor.
	ErrDowngrade = errors.New("downgrade refused")
)
