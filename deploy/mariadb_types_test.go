package deploy

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Minimal Go types for the mariadb-operator custom resources (k8s.mariadb.com/v1alpha1).
//
// The operator's own module (github.com/mariadb-operator/mariadb-operator/v26) is not served by
// the module proxy this project builds with, so these structs mirror the upstream API for exactly
// the fields the manifests use: same JSON names, same Go shapes. Strict decoding turns any other
// field, including a typo, into a test failure; using a new upstream field means adding it here.
// validate() repeats the CRD's enum checks for the fields that have one.

var mariaDBGroupVersion = schema.GroupVersion{Group: "k8s.mariadb.com", Version: "v1alpha1"}

func mariaDBKinds() map[string]reflect.Type {
	return map[string]reflect.Type{
		"MariaDB":  reflect.TypeFor[mariaDB](),
		"Database": reflect.TypeFor[mariaDBDatabase](),
		"User":     reflect.TypeFor[mariaDBUser](),
		"Grant":    reflect.TypeFor[mariaDBGrant](),
	}
}

type mariaDB struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              mariaDBSpec `json:"spec"`
}

type mariaDBSpec struct {
	Image                    string                       `json:"image,omitempty"`
	RootPasswordSecretKeyRef generatedSecretKeyRef        `json:"rootPasswordSecretKeyRef,omitempty"`
	Replicas                 int32                        `json:"replicas,omitempty"`
	Galera                   *mariaDBGalera               `json:"galera,omitempty"`
	Storage                  mariaDBStorage               `json:"storage"`
	Resources                *corev1.ResourceRequirements `json:"resources,omitempty"`
	Affinity                 *mariaDBAffinity             `json:"affinity,omitempty"`
	PodDisruptionBudget      *mariaDBPodDisruptionBudget  `json:"podDisruptionBudget,omitempty"`
	MyCnf                    *string                      `json:"myCnf,omitempty"`
}

type generatedSecretKeyRef struct {
	corev1.SecretKeySelector `json:",inline"`
	Generate                 bool `json:"generate,omitempty"`
}

type mariaDBGalera struct {
	Enabled        bool                   `json:"enabled,omitempty"`
	SST            string                 `json:"sst,omitempty"`
	ReplicaThreads *int                   `json:"replicaThreads,omitempty"`
	Recovery       *mariaDBGaleraRecovery `json:"recovery,omitempty"`
}

type mariaDBGaleraRecovery struct {
	Enabled bool `json:"enabled"`
}

type mariaDBStorage struct {
	Size             *resource.Quantity `json:"size,omitempty"`
	StorageClassName string             `json:"storageClassName,omitempty"`
}

type mariaDBAffinity struct {
	AntiAffinityEnabled *bool `json:"antiAffinityEnabled,omitempty"`
}

type mariaDBPodDisruptionBudget struct {
	MinAvailable   *intstr.IntOrString `json:"minAvailable,omitempty"`
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`
}

func (m *mariaDB) validate() error {
	if g := m.Spec.Galera; g != nil && g.SST != "" && g.SST != "mariabackup" && g.SST != "rsync" && g.SST != "mysqldump" {
		return fmt.Errorf("spec.galera.sst %q: want mariabackup, rsync or mysqldump", g.SST)
	}
	if m.Spec.Storage.Size == nil || m.Spec.Storage.Size.IsZero() {
		return fmt.Errorf("spec.storage.size: required")
	}
	return nil
}

// mariaDBRef is the reference every SQL resource carries to its MariaDB.
type mariaDBRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
	WaitForIt *bool  `json:"waitForIt,omitempty"`
}

type mariaDBDatabase struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		MariaDBRef    mariaDBRef `json:"mariaDbRef"`
		Name          string     `json:"name,omitempty"`
		CharacterSet  string     `json:"characterSet,omitempty"`
		Collate       string     `json:"collate,omitempty"`
		CleanupPolicy string     `json:"cleanupPolicy,omitempty"`
	} `json:"spec"`
}

func (d *mariaDBDatabase) validate() error { return validCleanupPolicy(d.Spec.CleanupPolicy) }

type mariaDBUser struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		MariaDBRef           mariaDBRef                `json:"mariaDbRef"`
		Name                 string                    `json:"name,omitempty"`
		Host                 string                    `json:"host,omitempty"`
		PasswordSecretKeyRef *corev1.SecretKeySelector `json:"passwordSecretKeyRef,omitempty"`
		MaxUserConnections   int32                     `json:"maxUserConnections,omitempty"`
		CleanupPolicy        string                    `json:"cleanupPolicy,omitempty"`
	} `json:"spec"`
}

func (u *mariaDBUser) validate() error { return validCleanupPolicy(u.Spec.CleanupPolicy) }

type mariaDBGrant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		MariaDBRef  mariaDBRef `json:"mariaDbRef"`
		Privileges  []string   `json:"privileges"`
		Database    string     `json:"database,omitempty"`
		Table       string     `json:"table,omitempty"`
		Username    string     `json:"username"`
		Host        *string    `json:"host,omitempty"`
		GrantOption bool       `json:"grantOption,omitempty"`
	} `json:"spec"`
}

func (g *mariaDBGrant) validate() error {
	if len(g.Spec.Privileges) == 0 || g.Spec.Username == "" {
		return fmt.Errorf("spec.privileges and spec.username are required")
	}
	return nil
}

func validCleanupPolicy(p string) error {
	if p != "" && p != "Skip" && p != "Delete" {
		return fmt.Errorf("spec.cleanupPolicy %q: want Skip or Delete", p)
	}
	return nil
}
