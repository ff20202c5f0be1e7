package setup

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// mobileconfig returns an Apple configuration profile that installs ca as a
// trusted root: one payload of type com.apple.security.root holding the DER
// certificate (Apple's "Configuration Profile Reference", Certificates
// payload). It is not signed, so iOS shows it as "Not Verified"; the user
// checks the fingerprint instead. Its identifiers and UUIDs derive from the
// certificate, so downloading it twice gives the same profile, and a new CA
// a new one.
func mobileconfig(ca *x509.Certificate) []byte {
	sum := sha256.Sum256(ca.Raw)
	id := "org.softland.home-ca." + hex.EncodeToString(sum[:8])
	profileUUID := strings.ToUpper(uuid.NewSHA1(uuid.NameSpaceOID, ca.Raw).String())
	certUUID := strings.ToUpper(uuid.NewSHA1(uuid.NameSpaceOID, append([]byte("root:"), ca.Raw...)).String())
	esc := func(s string) string {
		var b bytes.Buffer
		xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	name := esc(ca.Subject.CommonName)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>PayloadContent</key>
	<array>
		<dict>
			<key>PayloadCertificateFileName</key>
			<string>softland-ca.crt</string>
			<key>PayloadContent</key>
			<data>%s</data>
			<key>PayloadDescription</key>
			<string>Lets this device trust Softland's server on your home network.</string>
			<key>PayloadDisplayName</key>
			<string>%s</string>
			<key>PayloadIdentifier</key>
			<string>%s.root</string>
			<key>PayloadType</key>
			<string>com.apple.security.root</string>
			<key>PayloadUUID</key>
			<string>%s</string>
			<key>PayloadVersion</key>
			<integer>1</integer>
		</dict>
	</array>
	<key>PayloadDescription</key>
	<string>Trust the certificate authority that the computer running Softland made for your home network. It can only vouch for home-network names and addresses. Remove this profile when you no longer use Softland at home.</string>
	<key>PayloadDisplayName</key>
	<string>%s</string>
	<key>PayloadIdentifier</key>
	<string>%s</string>
	<key>PayloadOrganization</key>
	<string>Softland</string>
	<key>PayloadRemovalDisallowed</key>
	<false/>
	<key>PayloadType</key>
	<string>Configuration</string>
	<key>PayloadUUID</key>
	<string>%s</string>
	<key>PayloadVersion</key>
	<integer>1</integer>
</dict>
</plist>
`, base64.StdEncoding.EncodeToString(ca.Raw), name, id, certUUID, name, id, profileUUID)
	return b.Bytes()
}
