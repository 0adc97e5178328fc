package account

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// The argon2id parameters of HashPassword (see the package comment).
const (
	ArgonMemory  = 19456 // KiB
	ArgonTime    = 2
	ArgonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Bounds on what a hash in the config may ask for: a login must stay in
// the order of a second on a Pi.
const (
	maxArgonMemory = 64 << 10 // KiB
	maxArgonTime   = 10
	maxArgonLanes  = 8
	maxBcryptCost  = 14
)

// MaxPassword bounds the bytes of a password; a longer one never matches.
const MaxPassword = 1024

// ErrBadHash is wrapped by every error about a malformed password hash.
var ErrBadHash = errors.New("want an argon2id PHC string ($argon2id$v=19$m=KiB,t=N,p=N$salt$hash, base64 without padding, as doorbellctl passwd prints) or bcrypt ($2a$, $2b$, $2y$)")

var b64 = base64.RawStdEncoding

// HashPassword hashes password with argon2id (ArgonMemory, ArgonTime,
// ArgonThreads, a random 16-byte salt) and returns its PHC string.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("account: hash password: empty password")
	}
	if len(password) > MaxPassword {
		return "", fmt.Errorf("account: hash password: longer than %d bytes", MaxPassword)
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt) // never fails (crypto/rand)
	key := argon2.IDKey([]byte(password), salt, ArgonTime, ArgonMemory, ArgonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, ArgonMemory, ArgonTime, ArgonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// argonHash is a parsed argon2id PHC string.
type argonHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// badHash is an error about a malformed hash: what is wrong, never the
// hash itself.
func badHash(format string, a ...any) error {
	return fmt.Errorf("password hash: %s: %w", fmt.Sprintf(format, a...), ErrBadHash)
}

func parseArgon(hash string) (*argonHash, error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	f := strings.Split(hash, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return nil, badHash("argon2id hash with %d of 6 $-separated fields", len(f))
	}
	if f[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return nil, badHash("argon2id version field is not v=%d", argon2.Version)
	}
	var h argonHash
	params := strings.Split(f[3], ",")
	if len(params) != 3 {
		return nil, badHash("argon2id parameters are not m=KiB,t=N,p=N")
	}
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		if !ok {
			return nil, badHash("argon2id parameter %d is not %s=N", i+1, name)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, badHash("argon2id parameter %s is not a number", name)
		}
		switch name {
		case "m":
			if n < 8 || n > maxArgonMemory {
				return nil, badHash("argon2id m=%d KiB out of range 8..%d", n, maxArgonMemory)
			}
			h.memory = uint32(n)
		case "t":
			if n < 1 || n > maxArgonTime {
				return nil, badHash("argon2id t=%d out of range 1..%d", n, maxArgonTime)
			}
			h.time = uint32(n)
		case "p":
			if n < 1 || n > maxArgonLanes {
				return nil, badHash("argon2id p=%d out of range 1..%d", n, maxArgonLanes)
			}
			h.threads = uint8(n)
		}
	}
	if h.memory < 8*uint32(h.threads) {
		return nil, badHash("argon2id m=%d KiB is under 8 KiB per lane (p=%d)", h.memory, h.threads)
	}
	var err error
	if h.salt, err = b64.DecodeString(f[4]); err != nil || len(h.salt) < 8 || len(h.salt) > 64 {
		return nil, badHash("argon2id salt is not 8 to 64 bytes of base64 without padding")
	}
	if h.key, err = b64.DecodeString(f[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return nil, badHash("argon2id hash is not 16 to 64 bytes of base64 without padding")
	}
	return &h, nil
}

func isBcrypt(hash string) bool {
	return strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")
}

func checkBcrypt(hash string) error {
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return badHash("bcrypt hash does not parse")
	}
	if cost > maxBcryptCost {
		return badHash("bcrypt cost %d over %d (a login would take many seconds on a Pi)", cost, maxBcryptCost)
	}
	return nil
}

// ParseHash checks that hash is a password hash Verify takes, with
// parameters in bounds. Its error says what is wrong and what format is
// expected; it never contains the hash.
func ParseHash(hash string) error {
	switch {
	case hash == "":
		return badHash("empty")
	case strings.HasPrefix(hash, "$argon2id$"):
		_, err := parseArgon(hash)
		return err
	case isBcrypt(hash):
		return checkBcrypt(hash)
	case strings.HasPrefix(hash, "$argon2i$"), strings.HasPrefix(hash, "$argon2d$"):
		return badHash("argon2i and argon2d are not taken, only argon2id")
	default:
		return badHash("unknown scheme")
	}
}

// Verify reports whether password matches hash (argon2id PHC or bcrypt),
// comparing in constant time. A malformed hash is an error (ParseHash's);
// a wrong password is false and no error.
func Verify(hash, password string) (bool, error) {
	if err := ParseHash(hash); err != nil {
		return false, err
	}
	if len(password) > MaxPassword {
		return false, nil
	}
	if isBcrypt(hash) {
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
		if err == nil {
			return true, nil
		}
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) || errors.Is(err, bcrypt.ErrPasswordTooLong) {
			return false, nil
		}
		return false, badHash("bcrypt: %v", err)
	}
	h, _ := parseArgon(hash) // ParseHash passed
	key := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}
