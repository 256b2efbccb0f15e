package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Document is one rendered manifest and what is wrong with it.
type Document struct {
	Index    int      `json:"index"`
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Problems []string `json:"problems"`
}

// ManifestsReport lists every document checked, and the problems across documents.
type ManifestsReport struct {
	Documents []Document `json:"documents"`
	// Problems between documents (a selector that selects nothing, a port no Service has).
	References []string `json:"references"`
}

type crdVersion struct {
	validator validation.SchemaValidator
	structure *structuralschema.Structural
	cel       *cel.Validator
}

type crds map[schema.GroupVersionKind]crdVersion

func manifestsCommand(args []string) (any, bool, error) {
	flags := flag.NewFlagSet("manifests", flag.ContinueOnError)
	crdDir := flags.String("crds", "", "directory of CustomResourceDefinition YAML files")
	external := flags.String("external-secrets", "", "comma-separated Secrets that exist outside the release")
	if err := flags.Parse(args); err != nil {
		return nil, false, err
	}
	if *crdDir == "" {
		return nil, false, errors.New("--crds DIR is required")
	}
	definitions, err := loadCRDs(*crdDir)
	if err != nil {
		return nil, false, err
	}
	input, err := readInput(flags.Args())
	if err != nil {
		return nil, false, err
	}
	docs, err := splitDocuments(input)
	if err != nil {
		return nil, false, err
	}
	codec := strictCodec()
	report := ManifestsReport{Documents: []Document{}, References: []string{}}
	ok := true
	var typed []runtime.Object
	for i, raw := range docs {
		doc, obj := checkDocument(i, raw, codec, definitions)
		if obj != nil {
			typed = append(typed, obj)
		}
		ok = ok && len(doc.Problems) == 0
		report.Documents = append(report.Documents, doc)
	}
	report.References = checkReferences(typed, strings.Split(*external, ","))
	ok = ok && len(report.References) == 0 && len(docs) > 0
	return report, ok, nil
}

// strictCodec decodes the built-in kinds and the Prometheus operator's, failing on unknown or
// duplicate fields, as the API server does with fieldValidation=Strict.
func strictCodec() runtime.Decoder {
	s := runtime.NewScheme()
	must(scheme.AddToScheme(s))
	must(monitoringv1.AddToScheme(s))
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, s, s, kjson.SerializerOptions{Yaml: false, Strict: true})
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func splitDocuments(input []byte) ([][]byte, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(input)))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			docs = append(docs, doc)
		}
	}
}

func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			out.WriteString(line + "\n")
		}
	}
	return out.Bytes()
}

func checkDocument(i int, raw []byte, codec runtime.Decoder, definitions crds) (Document, runtime.Object) {
	doc := Document{Index: i, Problems: []string{}}
	asJSON, err := yaml.YAMLToJSONStrict(raw)
	if err != nil {
		doc.Problems = append(doc.Problems, err.Error())
		return doc, nil
	}
	var u unstructured.Unstructured
	if err := u.UnmarshalJSON(asJSON); err != nil {
		doc.Problems = append(doc.Problems, err.Error())
		return doc, nil
	}
	gvk := u.GroupVersionKind()
	doc.Kind = gvk.Kind
	doc.Name = u.GetName()
	// `helm template` leaves the namespace to the client that applies the manifests.
	meta := u.DeepCopy()
	if namespaced(gvk) && meta.GetNamespace() == "" {
		meta.SetNamespace("default")
	}
	metaProblems := metavalidation.ValidateObjectMetaAccessor(meta, namespaced(gvk), nameCheck(gvk), field.NewPath("metadata"))
	for _, e := range metaProblems {
		doc.Problems = append(doc.Problems, e.Error())
	}
	if definition, found := definitions[gvk]; found {
		doc.Problems = append(doc.Problems, checkCustomResource(u.Object, definition)...)
		return doc, &u
	}
	obj, _, err := codec.Decode(asJSON, nil, nil)
	if err != nil {
		doc.Problems = append(doc.Problems, fmt.Sprintf("%s: %v", gvk, err))
		return doc, nil
	}
	return doc, obj
}

func namespaced(gvk schema.GroupVersionKind) bool {
	switch gvk.Kind {
	case "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass":
		return false
	}
	return true
}

func nameCheck(gvk schema.GroupVersionKind) metavalidation.ValidateNameFunc {
	if gvk.Group == "" && gvk.Kind == "Service" {
		return metavalidation.NameIsDNS1035Label
	}
	return metavalidation.NameIsDNSSubdomain
}

// checkCustomResource validates a custom resource as the API server does: the version's schema,
// no field the schema does not know (they would be pruned silently), and its CEL rules.
func checkCustomResource(obj map[string]any, v crdVersion) []string {
	var problems []string
	for _, e := range validation.ValidateCustomResource(nil, obj, v.validator) {
		problems = append(problems, e.Error())
	}
	pruned := runtime.DeepCopyJSON(obj)
	unknown := pruning.PruneWithOptions(pruned, v.structure, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	for _, path := range unknown {
		problems = append(problems, fmt.Sprintf("%s: unknown field (the API server would drop it)", path))
	}
	if v.cel != nil {
		errs, _ := v.cel.Validate(context.Background(), nil, v.structure, obj, nil, celconfig.RuntimeCELCostBudget)
		for _, e := range errs {
			problems = append(problems, e.Error())
		}
	}
	return problems
}

func loadCRDs(dir string) (crds, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no CRD files in %s", dir)
	}
	out := crds{}
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(text, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, version := range crd.Spec.Versions {
			if version.Schema == nil || version.Schema.OpenAPIV3Schema == nil {
				return nil, fmt.Errorf("%s: version %s has no schema", file, version.Name)
			}
			var internal apiextensions.JSONSchemaProps
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(version.Schema.OpenAPIV3Schema, &internal, nil); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			structure, err := structuralschema.NewStructural(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			validator, _, err := validation.NewSchemaValidator(&internal)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: version.Name, Kind: crd.Spec.Names.Kind}
			out[gvk] = crdVersion{validator: validator, structure: structure, cel: cel.NewValidator(structure, true, celconfig.PerCallLimit)}
		}
	}
	return out, nil
}

// What the references checks need of a workload: its labels and named ports.
type workload struct {
	kind, name string
	labels     map[string]string
	ports      map[string]bool
}

// checkReferences finds what the API server accepts but what does not work: a selector that
// selects no pod, a probe or a ServiceMonitor on a port nobody names, a scale target or a
// secret that is not in the release.
func checkReferences(objs []runtime.Object, external []string) []string {
	problems := []string{}
	var workloads []workload
	services := map[string]*serviceInfo{}
	secrets := map[string]bool{}
	for _, name := range external {
		secrets[name] = true
	}
	names := map[string]bool{}
	for _, o := range objs {
		if m, err := metaOf(o); err == nil {
			names[o.GetObjectKind().GroupVersionKind().Kind+"/"+m.GetName()] = true
		}
		switch x := o.(type) {
		case *deployment:
			problems = append(problems, checkDeployment(x)...)
			workloads = append(workloads, workloadOf(x))
		case *service:
			services[x.Name] = &serviceInfo{svc: x}
		case *secret:
			secrets[x.Name] = true
		case *unstructured.Unstructured:
			// Secrets the Strimzi operators write: a user's credentials, the cluster CA certificate.
			switch x.GroupVersionKind().GroupKind().String() {
			case "KafkaUser.kafka.strimzi.io":
				secrets[x.GetName()] = true
			case "Kafka.kafka.strimzi.io":
				secrets[x.GetName()+"-cluster-ca-cert"] = true
			}
		}
	}
	for _, o := range objs {
		switch x := o.(type) {
		case *deployment:
			for _, ref := range secretRefs(x) {
				if !secrets[ref] {
					problems = append(problems, fmt.Sprintf("Deployment %s: secret %s is not in the release", x.Name, ref))
				}
			}
		case *service:
			problems = append(problems, checkService(x, workloads)...)
		case *pdb:
			problems = append(problems, checkSelects("PodDisruptionBudget "+x.Name, x.Spec.Selector, workloads)...)
		case *hpa:
			if !names[x.Spec.ScaleTargetRef.Kind+"/"+x.Spec.ScaleTargetRef.Name] {
				problems = append(problems, fmt.Sprintf("HorizontalPodAutoscaler %s: scale target %s/%s is not in the release", x.Name, x.Spec.ScaleTargetRef.Kind, x.Spec.ScaleTargetRef.Name))
			}
		case *monitoringv1.ServiceMonitor:
			problems = append(problems, checkServiceMonitor(x, services)...)
		}
	}
	sort.Strings(problems)
	return problems
}

func metaOf(o runtime.Object) (metav1.Object, error) {
	if u, ok := o.(*unstructured.Unstructured); ok {
		return u, nil
	}
	if m, ok := o.(metav1.ObjectMetaAccessor); ok {
		return m.GetObjectMeta(), nil
	}
	return nil, errors.New("no metadata")
}
