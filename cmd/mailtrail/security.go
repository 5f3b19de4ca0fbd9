package main

import (
	"context"
	"crypto/tls"
	"fmt"

	"mailtrail/adapters/imap"
	"mailtrail/config"
)

// remotePassword is the IMAP repository's password: from the
// configuration (remotepass, remotepassfile, remotepasseval, ~/.netrc) or
// by running remotepasscommand. None at all is an error unless OAuth2
// credentials can log in instead.
func remotePassword(ctx context.Context, cfg *config.Config, rr *config.Repository) (config.Secret, error) {
	pass, err := rr.Password(ctx)
	if err != nil {
		return config.Secret{}, err
	}
	if !pass.IsSet() && !rr.HasOAuth2() {
		return config.Secret{}, usageError{fmt.Errorf("repository %s: no password: set remotepass, remotepassfile, remotepasseval "+
			"or remotepasscommand in %s, or add a line for %s to ~/.netrc (mailtrail does not prompt)", rr.Name, cfg.Path, rr.RemoteHost)}
	}
	return pass, nil
}

// imapSecurity copies the repository's TLS and authentication options
// into the adapter's configuration.
func imapSecurity(rr *config.Repository, icfg *imap.Config) {
	icfg.Fingerprints = rr.CertFingerprints
	icfg.ClientCertFile, icfg.ClientKeyFile = rr.SSLClientCert, rr.SSLClientKey
	icfg.AuthMechanisms = rr.AuthMechanisms
	switch rr.SSLVersion {
	case "tls1_2":
		icfg.MinTLSVersion, icfg.MaxTLSVersion = tls.VersionTLS12, tls.VersionTLS12
	case "tls1_3":
		icfg.MinTLSVersion, icfg.MaxTLSVersion = tls.VersionTLS13, tls.VersionTLS13
	}
	if rr.HasOAuth2() {
		icfg.OAuth2 = &imap.OAuth2{
			ClientID:     rr.OAuth2ClientID,
			ClientSecret: rr.OAuth2ClientSecret.Reveal(),
			RefreshToken: rr.OAuth2RefreshToken.Reveal(),
			AccessToken:  rr.OAuth2AccessToken.Reveal(),
			RequestURL:   rr.OAuth2RequestURL,
		}
	}
}
