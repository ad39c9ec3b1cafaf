//! The built-in Alipay sandbox's FIXED key pairs. These are PUBLIC TEST KEYS, published by every
//! copy of this shop at `GET /sandbox/alipay/keys`: they protect nothing and must never be used
//! for a real Alipay app (live mode refuses them). Generated once with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`.

/// The sandbox's app id (the shape of an Alipay sandbox APPID).
pub const SANDBOX_APP_ID: &str = "2021000000000001";

/// PUBLIC TEST KEY: the merchant app's private key (PKCS#1, the node SDK's default `keyType`).
pub const SANDBOX_APP_PRIVATE_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIIEpAIBAAKCAQEAtzWk3Rr7pyfJPq5hhE9dYF99Sq4f0YleL0TTMmyt060QAU8i
AOt0R5gD8sxfgO/gBmaPJyMc+48QeWs/JFAooD8DB+MNYdZ3Jg+AuvXYQpVEK6UM
8Blkzla5QMogCaefQ3il9NtdZvpFjinnuwRyUBQqnkCQgJbI0MuFg3OuoWFPveu5
MZBxXHhL6pm6F2GGPcl+k1vUkMssWRI6ErW34GQnf8SjOW6jC6BFLVmPUrhyJf8L
nh/GkeQYReXkZGQMYs01wuKgw2gRwlsyg9To30nhz1NTKfqq6wxVku/0vZYbyNWL
dlIPv1peGlL34y0anVewYka+HC+O2GD8Oah0NwIDAQABAoIBABAysuEfnejkYiBK
GT7lW3HS9eHKU++mz9Tcpp8tlg+btfxy2CR+EyyyeoR9eeLzxZO05QQ5tqBhJwlt
KErk6wQ1l5mB0Bct3iC91Yy+6E0FI6u6+7iNewJ2DwpbTiQJL2uvBfeiBRFYbRmw
IWTBQTAZg4xOIT7u1etr8XtMf4yVLSruKTgHtRi+HH0C6JcA1t0pggAFSpayadWn
mubNAzbIjfkwt7LHv+MWQYkaoAWeNC3O3PMdqGv3gew1gJQHjsIPUjm8edrE0h2i
4s4ckChHU4UmdmZT+ZCQzfQD1LzbCcvLwjqsfIHuqk/3lSf0udWsvSv/xcVpV2Ls
CJdMPgECgYEA2jduIybWlXlYy4sCp+FFmxmKN5XlFYOo20WxU9sjPemJ8/OIHnpX
v+Vipr1bA3Z9bUS1y6oBwz/+0NH1L/y5kushMVQSuNrxP5YnMXTETFoa/d5fBbxO
J6KlNOIResR0+/0FkTfsvud3+nAZQhbtSHarJYNYs9uspf78EGmyMjcCgYEA1u6C
hx9LsitA0BWaqt3CIVWZV7hmYrHz1ia9z2futXD+Oo6xevb8S8YMEqvqMNqHRrWv
pXlzqUk6+UX0iAg+8Smt9SA7KlUuqijWIVQ6T6bVGKVtU4M6Bqigc8FhXIN9IArD
lWKWpAOMyldJ1ddDtrShPSLvrRMBB51CEyHizgECgYBflAHAkcVRSQo0dNmf8JKN
QZ2BhT0GtFkkWZ027ne8KWtMF7HaL5n5qh4QjEWt+ZssXfkGkJsfCwuwKRYsg5RA
no42Te25W+RpBnp6Nfu4uYqzAVA7ceQFhj64MACZ9iyLJqLmnUkrwLSTU8Asa2BY
6elCkAotFR3Ewy9ifPkY9wKBgQDVRoevnZZ3jgQad9Wqh7MDcPVg3lJ6zSqw7nCb
Rv7QfPdJFB95bWydpECGpqEVKUPjHpbVFNd4vHoQsSIdelE67aj4/Kq5Lx3HLA6P
tAzIzTvX4Q/DNwx1Xw8YzmPWcYPQL940dkgVKJCkmElkMN+4hTUafXhnvdvfumS+
p3lwAQKBgQCIiLDmYTkWqtgXY+fVvXgS/rcVcczkm+TsrjB8o97yGETfyyuSpXPn
kN/meixA5pHo21MjIfcmhVtAVIFaNfqj2Y2kS8DEMuIoT1X/Lp7sTqHvrRroTE2H
FfyTsA+K6l7Mgc41pyp2DopwRxZPKUgHNEAhbXQT9s3YLQYUWsj0rg==
-----END RSA PRIVATE KEY-----";

/// PUBLIC TEST KEY: the merchant app's public key (SPKI), with which the sandbox checks requests.
pub const SANDBOX_APP_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtzWk3Rr7pyfJPq5hhE9d
YF99Sq4f0YleL0TTMmyt060QAU8iAOt0R5gD8sxfgO/gBmaPJyMc+48QeWs/JFAo
oD8DB+MNYdZ3Jg+AuvXYQpVEK6UM8Blkzla5QMogCaefQ3il9NtdZvpFjinnuwRy
UBQqnkCQgJbI0MuFg3OuoWFPveu5MZBxXHhL6pm6F2GGPcl+k1vUkMssWRI6ErW3
4GQnf8SjOW6jC6BFLVmPUrhyJf8Lnh/GkeQYReXkZGQMYs01wuKgw2gRwlsyg9To
30nhz1NTKfqq6wxVku/0vZYbyNWLdlIPv1peGlL34y0anVewYka+HC+O2GD8Oah0
NwIDAQAB
-----END PUBLIC KEY-----";

/// PUBLIC TEST KEY: the sandbox "Alipay" private key (PKCS#8) that signs its answers and notifies.
pub const SANDBOX_ALIPAY_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDnDVuA4WOau6De
ELOwpaKQE9vSNmT73FRG0Ho0JRj8W9CeIhk8pC8FXcZJAgCjBDSQlxQgGObB094k
KP3nSJbYMcAwDPWiY3j8vKZAIpURZtOpySl5f4Yldh5ibmZthBPbGCfLnFihzEyr
TGUPTGVGW/OKB3zEQrY0E7xW8S1raNq4I7P5kt9uGixWzRwEmsOt1HawpQ+iM5Ij
xBpHhia9U7XwGQ4KEmETJZv1hkB3CV4Lj983Y1mbkAA05WRRk/nzgoruMSpkMqoV
ovbVdyh9uKFcPbePusiFVPd7/dGT/OL4LWfO+QsaWiOg8VNGzcz2eNrzU7bV2ZvR
0/84JoFFAgMBAAECggEADnYxkgGJgHfZ+8xD0vyrDiWQDrpE29bQl5YY8AaaZ8E/
b4Zm2frUzpst/AfaDloHCD3Mjq3AU8V1FAJU0hMjDekfRGKrRTzAp+EO7ti7R9mN
ygTDSc2HkfSwtix+0MABlicO5pmkmov1CIvBj5GSjTLYLX2Ge6pJST0q/q4dz6kk
A7/YHRzXVeB25NTZIT85V7x27rBo8rTXo5SCen9aWMTCFEsY4rM0n4lJVAlFlTcQ
8VmR6jAn73sDDubDqyUmk8NSaNy47zewAFIjXogaovnlZck4DdXihrXc5A4Xone5
P2eZzvKNTos7WLNmpOtzhT3ROdgMNTaIjCHzJXXMiQKBgQD4ZjdBK3vnv/zLcnPh
+hNIrY4FvIZjbRS1F/fmgxyL+IDgERgcfwXlmyJ21NAG9sqIJz3Rab0eKbXIJazk
KUoNfI9f3RyIuw36GszmsF4eZw3h9zkZcaKIi2SGX9aHxmC0bfzx/ASMXYxpse6n
ftxmMge8HcTKhqm74YgePVzCcwKBgQDuH0G1BfK+GDjKSBfzI5hrNtUQxbqXiwIC
Vw2aTdjDk5OgAmDattqZAREyBrZfijC4qKA8QBot/Lb8puJ3TQ8G/mH+vsFkIS25
F0kp8LUc3ldYsJ5nAePN2zW9gNHO0sSD+Bmq9kF9y5+NAO/9REFBxzqrxiBU88ZL
XVsG1ghnZwKBgBWBdAM2apHT82UB0bqc1hKSxBsHCXOOPB65poLUkyIjL7U2hanh
7XbFiaRUJHaV408KZrW8u9ziq5Rafq96S6kDQb6A/DlySHGA5ICMgHmNXoxTxSPI
zNOZjeh8X6x9pl24sA+bTCGC7+cuuoTR3O8UIctNoH4QTp2vlwNXOLK1AoGAFxRQ
egspi+MtHe3+5EH+8+VMoWOIwkdm2nM1jk8dQ1d6Z3fTi19NsKa50+9yna/3KO6v
GSfdYbesxLAoIwgE/NiLBvXWKK5OkDIBlV8PLs0eCiqUL8evHLSycLubmkAza9cQ
JdHYZyjlPfVpTVLgQE/fD+cUGyfFgGh7+h2kkuECgYAXNSvTUcOdqT/jIej80BdS
7ePJKson4/Dk7kvI4wrEyrtzWjA6GI3R/U/8/AAs9eC22MJx5shoih3WOAEiGytI
vvV+/UgfkXXBvNYnUftSoHJ5zgiOpxR+B6lN93Cg/BgFGEbRXDMRruLXj08d7KKT
GtC0FBuubayfDpIECowQXg==
-----END PRIVATE KEY-----";

/// PUBLIC TEST KEY: the sandbox "Alipay" public key (SPKI), with which the shop checks them.
pub const SANDBOX_ALIPAY_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA5w1bgOFjmrug3hCzsKWi
kBPb0jZk+9xURtB6NCUY/FvQniIZPKQvBV3GSQIAowQ0kJcUIBjmwdPeJCj950iW
2DHAMAz1omN4/LymQCKVEWbTqckpeX+GJXYeYm5mbYQT2xgny5xYocxMq0xlD0xl
Rlvzigd8xEK2NBO8VvEta2jauCOz+ZLfbhosVs0cBJrDrdR2sKUPojOSI8QaR4Ym
vVO18BkOChJhEyWb9YZAdwleC4/fN2NZm5AANOVkUZP584KK7jEqZDKqFaL21Xco
fbihXD23j7rIhVT3e/3Rk/zi+C1nzvkLGlojoPFTRs3M9nja81O21dmb0dP/OCaB
RQIDAQAB
-----END PUBLIC KEY-----";
